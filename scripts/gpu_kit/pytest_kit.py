"""pytest plugin for the kit's test run (``-p pytest_kit``).

* The tests must exercise the installed kit: the session stops at once if ``vkgrad`` was
  imported from anywhere but ``$VKGRAD_KIT_SITE`` (a ``src/`` on the path, say).
* Before ``-m`` deselects them, it counts the Vulkan tests each kit-deselected marker
  (``glslang``, ``extras``) carries, into ``$VKGRAD_KIT_DESELECTED`` (JSON), for the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

MARKERS = ("glslang", "extras")


def pytest_configure(config):
    import vkgrad  # the conftest imported it already; this names the copy in use

    site = Path(os.environ["VKGRAD_KIT_SITE"]).resolve()
    where = Path(vkgrad.__file__).resolve()
    if site not in where.parents:
        raise pytest.UsageError(f"vkgrad was imported from {where}, not from the kit in {site}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    path = os.environ.get("VKGRAD_KIT_DESELECTED")
    if not path:
        return
    vulkan = [it for it in items if it.get_closest_marker("vulkan")]
    counts = {m: sum(1 for it in vulkan if it.get_closest_marker(m)) for m in MARKERS}
    counts["vulkan"] = len(vulkan)
    # Every xdist worker collects the same tests and writes the same counts.
    tmp = f"{path}.{os.getpid()}"
    Path(tmp).write_text(json.dumps(counts))
    os.replace(tmp, path)
