"""Two Vulkan devices on a machine with none: Mesa's lavapipe listed twice.

The Vulkan loader enumerates one physical device per ICD manifest it is given, so two
manifests naming lavapipe's library make two (identical) devices, 0 and 1: enough to test
device renumbering and one process per device without two GPUs.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

from conftest import vulkan_skip_reason

MANIFESTS = ("/usr/share/vulkan/icd.d/lvp_icd*.json", "/etc/vulkan/icd.d/lvp_icd*.json")


def two_lavapipes(tmp_path: Path) -> dict | None:
    """Environment variables that show two lavapipe devices, or None where there is no
    lavapipe (or no Vulkan at all)."""
    if vulkan_skip_reason() is not None:
        return None
    found = [p for pattern in MANIFESTS for p in sorted(glob.glob(pattern))]
    if not found:
        return None
    manifest = json.loads(Path(found[0]).read_text())
    paths = []
    for name in ("a", "b"):
        p = tmp_path / f"lavapipe_{name}.json"
        p.write_text(json.dumps(manifest))
        paths.append(str(p))
    return {"VK_ICD_FILENAMES": ":".join(paths)}
