"""``vkgrad-setup-vulkan``: build vkgrad's kp wheel and install it into this Python.

PyPI has no kp wheel, and kp 0.9.0's source does not build there without network and a fix
(``vkgrad.kp_build``), so ``pip install vkgrad`` cannot bring Vulkan by itself. This command
checks the system packages the build needs (naming the missing ones and exiting 1), builds
the patched wheel once per Python (cached in ``~/.cache/vkgrad/wheels``), installs it with
this interpreter's pip, then imports kp and lists the Vulkan devices vkgrad sees.

    vkgrad-setup-vulkan                  # check, build or reuse, install, verify
    vkgrad-setup-vulkan --check          # only check the system
    vkgrad-setup-vulkan --wheel-dir      # only build; print the cached wheel's path
    vkgrad-setup-vulkan --wheel-dir DIR  # only build; copy the wheel into DIR, print its path
    vkgrad-setup-vulkan --force          # rebuild even when a cached wheel exists
    vkgrad-setup-vulkan --sdist kp-0.9.0.tar.gz   # offline: build from this source
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from .kp_build import patch, system, wheel

PROG = "vkgrad-setup-vulkan"

# Run in a fresh interpreter: the one running this command may have imported an older kp.
VERIFY = """
import kp
import vkgrad
from vkgrad.device import vulkan_unavailable_reason

if getattr(kp, "vkgrad_barriers", 0) < 2:
    raise SystemExit("kp imports, but it is not vkgrad's patched build (kp.vkgrad_barriers)")
found = [d for d in vkgrad.devices() if d["device"] != "cpu"]
if not found:
    raise SystemExit("kp imports, but no Vulkan device was found: %s" % vulkan_unavailable_reason())
print("Vulkan devices vkgrad sees:")
for d in found:
    print("  %s: %s (%s)" % (d["device"], d["name"], d["type"]))
"""


def _say(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Build the patched kp (Kompute) wheel vkgrad's Vulkan backend runs on, "
        "install it into this Python and list the Vulkan devices it finds.",
    )
    p.add_argument("--check", action="store_true", help="only check the system packages")
    p.add_argument(
        "--wheel-dir",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="only build (or find the cached) wheel and print its path; with DIR, copy it there",
    )
    p.add_argument("--force", action="store_true", help="rebuild even when a wheel is cached")
    p.add_argument(
        "--sdist",
        metavar="PATH",
        help=f"kp-{wheel.KP_VERSION}.tar.gz to build from, instead of downloading it from PyPI",
    )
    return p


def check(stages: tuple[str, ...]) -> bool:
    absent = system.missing(stages)
    if absent:
        _say(system.install_hint(absent))
        return False
    return True


def install(path: Path) -> None:
    # The same version number as a stock or an older patched kp: without --force-reinstall
    # pip would keep what is there. --no-deps: numpy came with vkgrad.
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall"]
    subprocess.run(cmd + [str(path)], check=True)
    _say(f"installed {path.name} into {sys.prefix}")


def verify() -> bool:
    return subprocess.run([sys.executable, "-c", VERIFY]).returncode == 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.check:
        ok = check(("build", "run"))
        if ok:
            _say("the system has everything building kp and running on Vulkan need")
        return 0 if ok else 1
    # Building needs only the build requirements: a machine without a Vulkan driver can make
    # the wheel for another.
    if not check(("build",) if args.wheel_dir is not None else ("build", "run")):
        return 1
    try:
        built = wheel.build(sdist=args.sdist, force=args.force)
    except (wheel.SdistUnavailable, patch.PatchError) as e:
        _say(str(e))
        return 1
    except subprocess.CalledProcessError as e:
        _say(f"building kp failed ({' '.join(e.cmd[:4])} ... exited {e.returncode}; see above)")
        return 1
    if args.wheel_dir is not None:
        if args.wheel_dir:
            Path(args.wheel_dir).mkdir(parents=True, exist_ok=True)
            built = Path(shutil.copy2(built, args.wheel_dir))
        print(built)
        return 0
    install(built)
    return 0 if verify() else 1


if __name__ == "__main__":
    sys.exit(main())
