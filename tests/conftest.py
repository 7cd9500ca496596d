"""Shared fixtures: the ``device`` fixture runs a test on cpu and, where one exists, Vulkan."""

from __future__ import annotations

import functools
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


def vulkan_param(*values, id: str | None = None):
    """A pytest.param for a Vulkan case: marked ``vulkan``, skipped only without a device."""
    reason = vulkan_skip_reason()
    marks = [pytest.mark.vulkan]
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
