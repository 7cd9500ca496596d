"""VKGRAD_VISIBLE_DEVICES: which Vulkan devices vkgrad sees, renumbered in the listed order.

Each case runs in a fresh interpreter (the device list is read once per process), with two
lavapipe devices (tests/multi_device.py), recording which devices kp opens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from multi_device import two_lavapipes

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import kp
real, opened = kp.Manager, []
def manager(*a):
    opened.append(a[0] if a else 0)
    return real(*a)
kp.Manager = manager
import vkgrad
dev_mod = sys.modules["vkgrad.device"]
out = {"reason": dev_mod.vulkan_unavailable_reason()}
devices = dev_mod._vulkan_devices()
out["listed"] = [[d["index"], d["physical_index"]] for d in devices]
if devices:
    x = vkgrad.ones(2, device=sys.argv[1]) + 1
    out["values"] = x.numpy().tolist()
out["opened"] = opened
print(json.dumps(out))
"""


@pytest.fixture
def two(tmp_path):
    env = two_lavapipes(tmp_path)
    if env is None:
        pytest.skip("needs Mesa's lavapipe (mesa-vulkan-drivers)")
    return env


def probe(env: dict, visible: str | None, device: str = "vulkan:0") -> dict:
    full = dict(os.environ, **env)
    full["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + full.get("PYTHONPATH", "")
    full.pop("VKGRAD_VISIBLE_DEVICES", None)
    if visible is not None:
        full["VKGRAD_VISIBLE_DEVICES"] = visible
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, device],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_unset_shows_every_device(two):
    out = probe(two, None)
    assert out["listed"] == [[0, 0], [1, 1]]
    assert out["opened"] == [0] and out["values"] == [2.0, 2.0]


@pytest.mark.parametrize(
    "visible,listed,opened",
    [("1", [[0, 1]], [1]), ("1,0", [[0, 1], [1, 0]], [1]), (" 0 , 1 ", [[0, 0], [1, 1]], [0])],
)
def test_the_list_picks_and_renumbers(two, visible, listed, opened):
    out = probe(two, visible)
    assert out["listed"] == listed
    # vulkan:0 is the first listed device: kp opened that one, and no other.
    assert out["opened"] == opened and out["values"] == [2.0, 2.0]


def test_renumbered_second_device(two):
    out = probe(two, "1,0", device="vulkan:1")
    assert out["opened"] == [1, 0]  # the listing's (vulkan:0 = device 1), then vulkan:1
    assert out["values"] == [2.0, 2.0]


@pytest.mark.parametrize(
    "visible,words",
    [
        ("", ["VKGRAD_VISIBLE_DEVICES is empty"]),
        ("0,5", ["VKGRAD_VISIBLE_DEVICES='0,5'", "device 5 does not exist", "0 to 1"]),
        ("x", ["'x' is not a device index"]),
        ("1,1", ["lists device 1 twice"]),
    ],
)
def test_bad_lists_say_why_vulkan_is_unavailable(two, visible, words):
    out = probe(two, visible)
    assert out["listed"] == [] and "values" not in out
    for w in words:
        assert w in out["reason"], out["reason"]
