"""Find the Vulkan device the kit runs on and say what it is.

    python probe.py --json probe.json [--expect-gpu]

Prints every Vulkan device (name, type, vendor, driver version) and the features vkgrad
enabled on the chosen one (``Manager.vkgrad_features()``), and where vkgrad, kp and NumPy
were imported from. Exits non-zero, the reason on the last line, when there is no Vulkan
device, or when ``--expect-gpu`` is given and every device is a CPU implementation
(lavapipe/llvmpipe, SwiftShader).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
from pathlib import Path

import numpy as np

import vkgrad
from vkgrad.device import vulkan_unavailable_reason

NVIDIA = 0x10DE


def driver_version(vendor_id: int, v: int) -> str:
    """A VkPhysicalDeviceProperties.driverVersion as the vendor writes it: NVIDIA packs
    major.minor.sub.patch in 10.8.8.6 bits, others use Vulkan's 10.10.12-bit version."""
    if vendor_id == NVIDIA:
        return f"{v >> 22}.{(v >> 14) & 0xFF}.{(v >> 6) & 0xFF}.{v & 0x3F}"
    return f"{v >> 22}.{(v >> 12) & 0x3FF}.{v & 0xFFF}"


def choose(devices: list, expect_gpu: bool, why_none: str | None = None) -> tuple:
    """(the device to run on, or None; the reason when there is none). A GPU is preferred
    (discrete, then integrated, then virtual), as vkgrad's own default does."""
    if not devices:
        return None, "no Vulkan device found" + (f": {why_none}" if why_none else "")
    rank = {"discrete": 0, "integrated": 1, "virtual": 2, "other": 3, "cpu": 4}
    best = min(devices, key=lambda d: (rank.get(d["device_type"], 3), d["index"]))
    if expect_gpu and best["device_type"] == "cpu":
        found = ", ".join(f"{d['name']} ({d['device_type']})" for d in devices)
        return None, (
            f"expected a GPU, but the only Vulkan devices are CPU implementations: {found}; "
            "check the driver's ICD file (VK_DRIVER_FILES) or run with --local"
        )
    return best, None


def driver_files_problems() -> list:
    """Why the Vulkan driver files named in the environment give no device: a missing file,
    or a driver library that does not load (its error says which library it lacks)."""
    out = []
    names = os.environ.get("VK_DRIVER_FILES") or os.environ.get("VK_ICD_FILENAMES") or ""
    for name in filter(None, names.split(os.pathsep)):
        try:
            lib = json.loads(Path(name).read_text())["ICD"]["library_path"]
        except (OSError, ValueError, KeyError) as e:
            out.append(f"driver file {name}: {e}")
            continue
        try:
            ctypes.CDLL(lib)
        except OSError as e:
            out.append(f"driver file {name}: its library does not load: {e}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--expect-gpu", action="store_true")
    args = ap.parse_args()
    info = {
        "vkgrad": vkgrad.__file__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "devices": [],
    }
    devices = [d for d in vkgrad.devices() if d["device"].startswith("vulkan:")]
    if devices:
        # Imported only once a device exists: without kp vkgrad lists none, and the reason
        # is what the probe reports.
        import kp

        from vkgrad.backends.vulkan import enumerate_devices, get_manager

        info["kp"] = kp.__file__
        for d in enumerate_devices():
            d = {k: v for k, v in d.items() if isinstance(v, (int, float, str, tuple, list))}
            d["driver"] = driver_version(d.get("vendor_id", 0), d.get("driver_version", 0))
            info["devices"].append(d)
    why_none = "; ".join(filter(None, [vulkan_unavailable_reason(), *driver_files_problems()]))
    chosen, error = choose(info["devices"], args.expect_gpu, why_none)
    for d in info["devices"]:
        mark = "*" if chosen is not None and d["index"] == chosen["index"] else " "
        print(
            f"{mark} vulkan:{d['index']} {d['name']} ({d['device_type']}), vendor "
            f"0x{d.get('vendor_id', 0):04x} device 0x{d.get('device_id', 0):04x}, "
            f"driver {d['driver']}"
        )
    if chosen is not None:
        features = get_manager(chosen["index"]).vkgrad_features()
        info["chosen"] = f"vulkan:{chosen['index']}"
        info["features"] = {k: {"has": v[0], "enabled": v[1]} for k, v in features.items()}
        print(
            "features (has, enabled): "
            + ", ".join(f"{k} {tuple(v)}" for k, v in sorted(features.items()))
        )
    print(f"vkgrad {info['vkgrad']}, kp {info.get('kp')}, numpy {info['numpy']}")
    info["error"] = error
    with open(args.json, "w") as f:
        json.dump(info, f, indent=1)
    if error:
        print(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
