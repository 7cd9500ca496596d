"""Shared fixtures: the ``device`` fixture runs a test on cpu and, where one exists, Vulkan."""

from __future__ import annotations

import functools
import json
import os
import sys

import pytest

import vkgrad  # noqa: F401  (imports vkgrad.device as a module)

_device_mod = sys.modules["vkgrad.device"]  # ``vkgrad.device`` is the function


@functools.cache
def vulkan_skip_reason() -> str | None:
    """Why Vulkan tests cannot run here, or None when a Vulkan device exists."""
    reason = _device_mod.vulkan_unavailable_reason()
    if reason:
        return f"Vulkan unavailable: {reason}"
    if not _device_mod._vulkan_devices():
        return "Vulkan unavailable: no Vulkan device found"
    return None


def vulkan_param(*values, id: str | None = None, marks: tuple = ()):
    """A pytest.param for a Vulkan case: marked ``vulkan`` (and ``marks``), skipped only
    without a device."""
    reason = vulkan_skip_reason()
    marks = [pytest.mark.vulkan, *marks]
    if reason:
        marks.append(pytest.mark.skip(reason=reason))
    return pytest.param(*values, marks=marks, id=id)


DEVICES = ["cpu", vulkan_param("vulkan", id="vulkan")]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _restore_defaults():
    """Tests that set the default device/dtype must not leak them into other tests."""
    dev, dt = _device_mod._default_device, _device_mod._default_dtype
    yield
    _device_mod._default_device, _device_mod._default_dtype = dev, dt


# With VKGRAD_SHADER_COVERAGE=<file>, every (shader, defines) variant dispatched on Vulkan is
# written to <file> at the end of the run; scripts/shader_coverage.py compares it with the
# shaders and variants that exist (CI fails on one that no test runs).
_COVERAGE_FILE = os.environ.get("VKGRAD_SHADER_COVERAGE")
_dispatched: set = set()

if _COVERAGE_FILE and vulkan_skip_reason() is None:
    from vkgrad.backends.vulkan import VulkanBackend

    _algorithm = VulkanBackend._algorithm

    def _recording_algorithm(self, name, defines, *args, **kwargs):
        _dispatched.add((name, tuple(sorted(defines.items()))))
        return _algorithm(self, name, defines, *args, **kwargs)

    VulkanBackend._algorithm = _recording_algorithm


def pytest_sessionfinish(session, exitstatus):
    if _COVERAGE_FILE:
        # VKGRAD_SHADER_COVERAGE_APPEND=1: a second session (the packed-f16 pass in CI) adds
        # to the first one's record instead of replacing it.
        if os.environ.get("VKGRAD_SHADER_COVERAGE_APPEND") == "1" and os.path.exists(
            _COVERAGE_FILE
        ):
            with open(_COVERAGE_FILE) as f:
                _dispatched.update((n, tuple(sorted(d.items()))) for n, d in json.load(f))
        rows = [[name, dict(d)] for name, d in sorted(_dispatched)]
        with open(_COVERAGE_FILE, "w") as f:
            json.dump(rows, f, indent=0)
