"""Build the patched kp 0.9.0 wheel once per Python and keep it in a cache.

kp 0.9.0 from its PyPI source, patched (``vkgrad.kp_build.patch``), compiled against the
system's Vulkan headers and fmt and against pip's pybind11 >= 2.12 installed into the running
environment: kp's own pybind11 (2.9) and Debian's (2.10) predate NumPy 2, whose array ABI
changed. The wheel is cached under ``$VKGRAD_WHEEL_CACHE`` (``~/.cache/vkgrad/wheels``) in a
directory named by a hash of this module and the patch and by the Python tag, so a second
build for the same Python only finds it, and any change to either builds afresh.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

from . import patch

KP_VERSION = "0.9.0"
# Installed into the running environment: the build runs without isolation, so that CMake
# finds this pybind11 rather than fetching one.
BUILD_DEPS = ["cmake", "wheel", "setuptools", "pybind11>=2.12"]

# kp's CMake fetches Vulkan-Headers, fmt and pybind11 from the network unless told to use
# installed copies. KOMPUTE_OPT_INSTALL=OFF avoids a CMake alias-target error.
KOMPUTE_ENV = {
    "KOMPUTE_OPT_INSTALL": "OFF",
    "KOMPUTE_OPT_USE_BUILT_IN_VULKAN_HEADER": "OFF",
    "KOMPUTE_OPT_USE_BUILT_IN_FMT": "OFF",
    "KOMPUTE_OPT_USE_BUILT_IN_PYBIND11": "OFF",
    "KOMPUTE_OPT_DISABLE_VULKAN_VERSION_CHECK": "ON",
}


class SdistUnavailable(RuntimeError):
    """kp's source distribution could not be downloaded."""


def _log(msg: str) -> None:
    print(f"vkgrad-setup-vulkan: {msg}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    env = os.environ.get("VKGRAD_WHEEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "vkgrad" / "wheels"


def cache_key() -> str:
    """A hash of the build code and the patch: either changing builds a new wheel."""
    h = hashlib.sha256()
    for module in (__file__, patch.__file__):
        h.update(Path(module).read_bytes())
    return h.hexdigest()[:12]


def python_tag() -> str:
    return f"cp{sys.version_info[0]}{sys.version_info[1]}"


def cache_dir() -> Path:
    return cache_root() / f"kp-{KP_VERSION}-{cache_key()}-{python_tag()}"


def cached_wheel() -> Path | None:
    wheels = sorted(cache_dir().glob("kp-*.whl"))
    return wheels[0] if wheels else None


def _run(cmd: list[str], **kw) -> None:
    # The build's chatter goes to stderr: stdout carries only what the caller prints.
    subprocess.run(cmd, check=True, stdout=sys.stderr.fileno(), **kw)


def download_sdist(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
    res = subprocess.run(
        cmd + [f"kp=={KP_VERSION}", "-d", str(dest)], capture_output=True, text=True
    )
    found = sorted(dest.glob(f"kp-{KP_VERSION}.tar.gz"))
    if res.returncode != 0 or not found:
        said = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise SdistUnavailable(
            f"could not download kp {KP_VERSION}'s source from PyPI"
            + (f" (pip: {' / '.join(said)})" if said else "")
            + f". Without network, fetch kp-{KP_VERSION}.tar.gz elsewhere (pip download "
            f"--no-deps --no-binary :all: kp=={KP_VERSION}) and pass it with --sdist PATH."
        )
    return found[0]


def unpack(sdist: Path, dest: Path) -> Path:
    """Unpack the sdist under ``dest``; return kp's source root."""
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python < 3.12 without the backported filter
            tar.extractall(dest)
    root = dest / f"kp-{KP_VERSION}"
    if not (root / "setup.py").is_file():
        raise patch.PatchError(f"{sdist} does not unpack to kp-{KP_VERSION}/setup.py")
    return root


def _store(wheel: Path) -> Path:
    """Put the wheel into its cache directory in one rename, so an interrupted or concurrent
    build never leaves a half-filled entry."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = cache_dir()
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    shutil.copy2(wheel, staging / wheel.name)
    old = None
    if final.exists():
        old = root / f".old-{final.name}-{os.getpid()}"
        os.rename(final, old)
    try:
        os.rename(staging, final)
    except OSError:
        # Another build stored the same key meanwhile: keep its wheel.
        shutil.rmtree(staging, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final / wheel.name


def build(
    sdist: str | Path | None = None, force: bool = False, log: Callable[[str], None] = _log
) -> Path:
    """The cached wheel for this Python, built first when missing (or when ``force``)."""
    if not force:
        cached = cached_wheel()
        if cached is not None:
            log(f"using the cached kp wheel {cached}")
            return cached
    log(f"building kp {KP_VERSION} for {python_tag()} from source (once; a minute or two)")
    with tempfile.TemporaryDirectory(prefix="vkgrad-kp-") as tmp:
        work = Path(tmp)
        src = Path(sdist) if sdist is not None else download_sdist(work)
        root = unpack(src, work)
        for rel in patch.apply(root):
            log(f"patched {rel}")
        _run([sys.executable, "-m", "pip", "install", "-q", *BUILD_DEPS])
        cmakedir = subprocess.run(
            [sys.executable, "-m", "pybind11", "--cmakedir"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        env = {
            **os.environ,
            **KOMPUTE_ENV,
            "pybind11_DIR": cmakedir,
            "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1),
        }
        dist = work / "dist"
        _run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps"]
            + [str(root), "-w", str(dist)],
            env=env,
        )
        wheels = sorted(dist.glob("kp-*.whl"))
        if not wheels:
            raise RuntimeError(f"pip wheel built no kp wheel in {dist}")
        return _store(wheels[0])
