"""vkgrad.profiler: kernel counts, times, the table, the Chrome trace, and nothing when off."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from conftest import DEVICES

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import nn, optim, profiler
from vkgrad.backends.numpy_backend import NumpyBackend


def _base(key: str) -> str:
    """The op or shader of a key: Vulkan keys carry the variant, ``add[D0=0, ...]``."""
    return key.split("[")[0]


def _counts(prof) -> Counter:
    counts: Counter = Counter()
    for r in prof.key_averages():
        counts[_base(r.key)] += r.count
    return counts


def _inputs(device):
    a = vkgrad.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device=device)
    b = vkgrad.tensor(np.full((2, 3), 2.0, np.float32), device=device)
    return a, b


def _three_ops(a, b):
    c = a + b
    d = a * b
    return (c + d).numpy()


@pytest.mark.parametrize("device", DEVICES)
def test_counts_match_the_kernels_run(device):
    a, b = _inputs(device)
    with profiler.profile() as prof:
        out = _three_ops(a, b)
    np.testing.assert_array_equal(out, np.arange(6).reshape(2, 3) * 3 + 2)
    counts = _counts(prof)
    # The uploads of a and b were submitted before the profile began.
    expected = {"add": 2, "mul": 1} if device == "cpu" else {"add": 2, "mul": 1, "download": 1}
    assert dict(counts) == expected
    for r in prof.key_averages():
        assert r.device == ("cpu" if device == "cpu" else "vulkan:0")
        assert r.device_time_total > 0, r
        assert r.device_time_avg == pytest.approx(r.device_time_total / r.count)
    if device == "vulkan":
        assert all(r.key.startswith(("add[", "mul[", "download")) for r in prof.key_averages())


@pytest.mark.parametrize("device", DEVICES)
def test_training_step_times_every_kernel(device):
    vkgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    opt = optim.Adam(model.parameters())
    x = vkgrad.randn(4, 8).to(device)
    y = vkgrad.tensor(np.array([0, 1, 2, 0], np.int32), device=device)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    step()
    # The oracle: the kernels an identical step runs, counted at the backend's entry point.
    backend = vkgrad.Device.parse(device).backend
    ran: Counter = Counter()
    if device == "cpu":
        entry = "run"

        def counting(op, *args, **kw):
            ran[op.name] += 1
            return type(backend).run(backend, op, *args, **kw)
    else:
        entry = "dispatch"

        def counting(shader, *args, **kw):
            if backend._transfer is None:  # uploads and downloads are copy dispatches
                ran[shader] += 1
            return type(backend).dispatch(backend, shader, *args, **kw)

    setattr(backend, entry, counting)
    try:
        step()
        vkgrad.synchronize()
    finally:
        delattr(backend, entry)
    with profiler.profile() as prof:
        step()
    counts = _counts(prof)
    # Transfers (upload, download) are checked apart from the kernels.
    transfers = {k: counts.pop(k, 0) for k in ("upload", "download")}
    if device == "vulkan":
        # The Adam attrs: one array for all parameters at the same step count.
        assert transfers["upload"] >= 1, transfers
    assert counts == ran
    assert ran["matmul"] >= 5 and ran["adam_step"] == 4
    assert all(e.duration >= 0 for e in prof.events)
    assert sum(r.device_time_total for r in prof.key_averages()) > 0


@pytest.mark.parametrize("device", DEVICES)
def test_table_is_sorted(device):
    a, b = _inputs(device)
    with profiler.profile() as prof:
        for _ in range(3):
            _three_ops(a, b)
    rows = prof.key_averages()
    table = rows.table()
    body = table.splitlines()[3:-2]  # rule, head, rule ... rule, total
    keys = [line.split()[0] for line in body]
    by_total = sorted(rows, key=lambda r: -r.device_time_total)
    assert keys == [r.key.split()[0] for r in by_total]
    assert table.splitlines()[-1].startswith("Device time total: ")
    by_count = rows.table(sort_by="count", row_limit=1).splitlines()[3:-2]
    assert len(by_count) == 1 and by_count[0].split()[0].startswith("add")
    by_key = [line.split()[0] for line in rows.table(sort_by="key").splitlines()[3:-2]]
    assert by_key == sorted(by_key)
    with pytest.raises(ValueError, match="sort_by must be one of .* got 'cuda_time'"):
        rows.table(sort_by="cuda_time")


@pytest.mark.parametrize("device", DEVICES)
def test_chrome_trace(device, tmp_path):
    a, b = _inputs(device)
    with profiler.profile() as prof:
        for _ in range(2):
            _three_ops(a, b)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    events = json.loads(path.read_text())["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    assert {e["name"] for e in spans} == {r.key for r in prof.key_averages()}
    assert len(spans) == len(prof.events)
    threads: dict = {}
    for e in spans:
        assert set(e) >= {"name", "ph", "ts", "dur", "pid", "tid", "args"}
        assert e["dur"] >= 0
        threads.setdefault((e["pid"], e["tid"]), []).append(e)
    for spans_of_thread in threads.values():
        ts = [e["ts"] for e in spans_of_thread]
        assert ts == sorted(ts) and ts[0] == 0
        # One queue: an op starts no earlier than the one before it ended.
        for prev, nxt in zip(spans_of_thread, spans_of_thread[1:]):
            assert nxt["ts"] >= prev["ts"] + prev["dur"] - 1e-3
    names = [e["args"]["name"] for e in events if e["ph"] == "M"]
    assert names == ["cpu" if device == "cpu" else "vulkan:0"]


@pytest.mark.parametrize("device", DEVICES)
def test_nested_and_exited(device):
    a, b = _inputs(device)
    assert profiler.ACTIVE is None
    with profiler.profile() as outer:
        a + b
        with profiler.profile() as inner:
            assert profiler.ACTIVE is inner
            a * b
        assert profiler.ACTIVE is outer
        with pytest.raises(RuntimeError, match="already active"):
            outer.__enter__()
    assert profiler.ACTIVE is None
    assert dict(_counts(inner)) == {"mul": 1}
    assert _counts(outer)["add"] == 1 and _counts(outer)["mul"] == 1
    with pytest.raises(KeyError):
        with profiler.profile():
            raise KeyError("inside")
    assert profiler.ACTIVE is None
    n = len(outer.events)
    _three_ops(a, b)
    assert len(outer.events) == n


def _refuse(*_a, **_k):
    raise AssertionError("a profiler hook ran with profiling off")


@pytest.mark.parametrize("device", DEVICES)
def test_off_adds_no_hooks(device, monkeypatch):
    for name in ("cpu_kernel", "host_span", "timed_sequence", "sequence_done", "_add"):
        monkeypatch.setattr(profiler.profile, name, _refuse)
    a, b = _inputs(device)
    _three_ops(a, b)
    backend = vkgrad.Device.parse(device).backend
    if device == "cpu":
        assert type(backend).run is NumpyBackend.run and "run" not in backend.__dict__
    else:
        a + b  # pending: recorded into an untimed sequence
        assert backend.recorder.seq is not None and backend.recorder.labels is None
        vkgrad.synchronize()


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_vulkan_sequence_of_more_ops_than_timestamps(device, monkeypatch):
    a, b = _inputs(device)
    backend = vkgrad.Device.parse(device).backend
    monkeypatch.setattr(profiler, "TIMED_OPS", 3)
    vkgrad.synchronize()  # the uploads of a and b
    submits = backend.stats()["submits"]
    with profiler.profile() as prof:
        outs = [a + b for _ in range(7)]
        outs[-1].numpy()
    assert dict(_counts(prof)) == {"add": 7, "download": 1}
    # Barriers take timestamp slots too: 3 adds, 3 adds, (add, barrier, download), then the
    # barrier that makes the download visible to the host.
    assert backend.stats()["submits"] - submits == 4
    starts = [e.start for e in prof.events]
    assert starts == sorted(starts)


@pytest.mark.parametrize("device", DEVICES)
def test_captured_replay(device):
    vkgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = vkgrad.randn(4, 8).to(device)
    y = vkgrad.tensor(np.array([0, 1, 2, 0], np.int32), device=device)

    @vkgrad.capture
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    with profiler.profile() as eager_prof:
        step(x, y)  # the first call runs eagerly
    step(x, y)  # recorded
    step(x, y)  # replayed
    with profiler.profile() as prof:
        step(x, y)
    counts, eager = _counts(prof), _counts(eager_prof)
    if device == "cpu":
        # The replay calls the same kernels, each timed (constants folded at capture aside).
        assert counts["matmul"] == eager["matmul"] >= 5
        assert counts["sgd_step"] == eager["sgd_step"] == 4
        assert set(counts) <= set(eager)
    else:
        # Replayed sequences are timed as a whole, by the host.
        rows = [r for r in prof.key_averages() if r.key == "capture_replay"]
        assert len(rows) == 1 and rows[0].count == 1 and rows[0].device == "vulkan:0 (host)"
        assert rows[0].device_time_total > 0
