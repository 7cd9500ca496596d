"""Synchronization validation: training steps and every Vulkan kind run under the Khronos
validation layer with synchronization validation on; any validation message fails.

lavapipe runs dispatches in order, so a missing barrier gives right answers here and wrong
ones on a GPU. The layer sees it: it checks every command buffer against the barriers it
holds. ``test_planted_hazard_is_reported`` drops the recorder's barriers
(``VKGRAD_UNSAFE_NO_BARRIERS=1``) and requires the layer to report the race, so the check is
known to be able to fail.

Needs the layer (Debian: ``apt-get install vulkan-validationlayers``; ``scripts/setup.sh``
installs it). Without it the tests skip, unless ``VKGRAD_REQUIRE_SYNC_VALIDATION=1`` (CI),
where they fail. The layer 1.3.239 ignores ``VK_LAYER_ENABLES``: the settings go in a
``vk_layer_settings.txt`` found through ``VK_LAYER_SETTINGS_PATH``.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.vulkan

SCRIPT = pathlib.Path(__file__).with_name("sync_validation_run.py")
LAYER_JSON = "VkLayer_khronos_validation.json"
SETTINGS = """\
khronos_validation.debug_action = VK_DBG_LAYER_ACTION_LOG_MSG
khronos_validation.report_flags = error,warn
khronos_validation.log_filename = stdout
khronos_validation.enables = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT
"""
# What the layer prints for an error or warning (a VUID, a SYNC-HAZARD-... id).
MARKERS = ("VUID", "Validation Error", "Validation Warning", "SYNC-HAZARD")


def layer_installed() -> bool:
    dirs = []
    for var in ("VK_LAYER_PATH", "VK_ADD_LAYER_PATH"):
        dirs += [d for d in os.environ.get(var, "").split(os.pathsep) if d]
    data_dirs = os.environ.get("XDG_DATA_DIRS", "/usr/local/share:/usr/share").split(":")
    dirs += [os.path.join(d, "vulkan", "explicit_layer.d") for d in data_dirs if d]
    dirs += ["/etc/vulkan/explicit_layer.d"]
    dirs.append(os.path.expanduser("~/.local/share/vulkan/explicit_layer.d"))
    return any(os.path.exists(os.path.join(d, LAYER_JSON)) for d in dirs)


@pytest.fixture(scope="module")
def layer_env(tmp_path_factory):
    if not layer_installed():
        msg = "Khronos validation layer not installed (apt-get install vulkan-validationlayers)"
        if os.environ.get("VKGRAD_REQUIRE_SYNC_VALIDATION") == "1":
            pytest.fail(msg + ", and VKGRAD_REQUIRE_SYNC_VALIDATION=1")
        pytest.skip(msg)
    try:
        import vkgrad

        if not any(d["device"].startswith("vulkan") for d in vkgrad.devices()):
            pytest.skip("no Vulkan device")
    except Exception as e:  # noqa: BLE001 - any failure to list devices means no Vulkan here
        pytest.skip(f"no Vulkan: {e}")
    d = tmp_path_factory.mktemp("vk_layer_settings")
    (d / "vk_layer_settings.txt").write_text(SETTINGS)
    env = dict(os.environ)
    env.update(
        VK_LAYER_SETTINGS_PATH=str(d),
        VK_INSTANCE_LAYERS="VK_LAYER_KHRONOS_validation",
        VKGRAD_DEVICE="vulkan",
    )
    env.pop("VKGRAD_UNSAFE_NO_BARRIERS", None)
    env.pop("VKGRAD_BARRIER_MODE", None)
    return env


def run_validated(env: dict, part: str, timeout: int = 300) -> tuple[str, list]:
    p = subprocess.run(
        [sys.executable, str(SCRIPT), part],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = p.stdout + p.stderr
    flagged = [line for line in out.splitlines() if any(m in line for m in MARKERS)]
    if p.returncode != 0:
        pytest.fail(f"{SCRIPT.name} {part} exited with {p.returncode}:\n{out[-4000:]}")
    return out, flagged


def _require_patched_kp():
    kp = pytest.importorskip("kp")
    if not hasattr(kp, "OpVkgradBarrier"):
        pytest.skip("this kp records no dependency barriers (stock kp: levels mode submits)")


@pytest.mark.parametrize("part", ["models", "kinds"])
def test_no_validation_messages(layer_env, part):
    out, flagged = run_validated(layer_env, part)
    assert "ran " in out, f"{part}: nothing ran:\n{out[-2000:]}"
    assert not flagged, (
        f"the validation layer reported {len(flagged)} message(s) for '{part}' "
        f"(expected none):\n" + "\n".join(flagged[:40])
    )


def test_planted_hazard_is_reported(layer_env):
    _require_patched_kp()
    env = dict(layer_env, VKGRAD_UNSAFE_NO_BARRIERS="1")
    out, flagged = run_validated(env, "planted", timeout=120)
    assert "planted: barriers dropped: " in out and "barriers dropped: 0 " not in out, out
    assert any("SYNC-HAZARD-READ-AFTER-WRITE" in line for line in flagged), (
        "with the recorder's barriers dropped, the validation layer was expected to report "
        f"SYNC-HAZARD-READ-AFTER-WRITE; it printed:\n{out[-3000:]}"
    )
