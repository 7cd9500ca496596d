"""The device's VkPipelineCache on disk, beside the SPIR-V cache, so a new process starts warm.

The patched kp (vkgrad/kp_build/patch.py) keeps one VkPipelineCache per device and builds every
pipeline through it. vkgrad merges the file into it when it opens the device, and writes the
cache back after new pipelines were built (at most every ``SAVE_INTERVAL`` seconds, so that a
warm-up building hundreds of pipelines writes a few times, not hundreds) and at exit.

File: ``$VKGRAD_CACHE_DIR/pipelines/<device>-<vendor>-<device id>-<driver>.bin`` (default
``~/.cache/vkgrad``). The driver checks the cache header (vendor, device, cache UUID) and
ignores data it did not write, so a stale file costs nothing but the pipelines it lacks.
``VKGRAD_PIPELINE_CACHE=0`` turns the file off. A stock kp has no shared pipeline cache: then
nothing is read or written.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import time
import weakref
from pathlib import Path

from .sources import cache_root, write_atomic

log = logging.getLogger("vkgrad")

SAVE_INTERVAL = 5.0  # seconds between writes while new pipelines keep coming


def cache_path(props: dict) -> Path:
    ident = "{}-{:x}-{:x}-{:x}".format(
        props.get("device_name", "device"),
        int(props.get("vendor_id", 0)),
        int(props.get("device_id", 0)),
        int(props.get("driver_version", 0)),
    )
    return cache_root() / "pipelines" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", ident) + ".bin")


class PipelineCacheFile:
    """Loads the file into ``mgr``'s pipeline cache; ``note(created)`` saves it, throttled."""

    def __init__(self, mgr) -> None:
        self.mgr = weakref.ref(mgr)
        self.path = cache_path(dict(mgr.get_device_properties()))
        self.saved_at = float("-inf")
        self.saved_count = self._pipelines(mgr)
        self.loaded = 0
        try:
            data = self.path.read_bytes()
        except OSError:
            data = b""
        if data:
            mgr.load_pipeline_cache(data)
            self.loaded = len(data)
        atexit.register(self.save)

    @staticmethod
    def _pipelines(mgr) -> int:
        return int(mgr.vkgrad_stats()["pipelines_created"])

    def note(self) -> None:
        """Called after an algorithm was created: save if new pipelines were built and the
        last save is old enough."""
        if time.monotonic() - self.saved_at >= SAVE_INTERVAL:
            self.save()

    def save(self) -> None:
        mgr = self.mgr()
        if mgr is None:
            return
        try:
            count = self._pipelines(mgr)
            if count == self.saved_count:
                return
            write_atomic(self.path, mgr.pipeline_cache_data())
            self.saved_count = count
            self.saved_at = time.monotonic()
        except Exception as e:  # a read-only cache (or a destroyed device) only costs warmth
            self.saved_at = time.monotonic()
            log.debug("vkgrad: pipeline cache not saved to %s: %s", self.path, e)


def open_for(mgr) -> PipelineCacheFile | None:
    """The cache file of ``mgr``'s device, or None (stock kp, or turned off)."""
    if os.environ.get("VKGRAD_PIPELINE_CACHE", "1") == "0":
        return None
    if not hasattr(mgr, "load_pipeline_cache"):
        return None
    return PipelineCacheFile(mgr)
