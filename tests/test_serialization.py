"""vkgrad.save / vkgrad.load: round trips, the file format, atomic writes and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import vkgrad
from vkgrad import nn, optim


def _has_vulkan() -> bool:
    return any(d["device"].startswith("vulkan") for d in vkgrad.devices())


DEVICES = ["cpu", pytest.param("vulkan", marks=pytest.mark.vulkan)]


def _skip_no_vulkan(device: str) -> None:
    if device == "vulkan" and not _has_vulkan():
        pytest.skip("no Vulkan device")


def _model(device="cpu", dtype="f32"):
    vkgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device, dtype)


def _train(model, opt, device, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = vkgrad.tensor(rng.standard_normal((5, 4)), device=device, dtype="f32")
        y = vkgrad.tensor(rng.standard_normal((5, 3)), device=device, dtype="f32")
        opt.zero_grad()
        nn.functional.mse_loss(model(x.to(dtype=model[0].weight.dtype)).float(), y).backward()
        opt.step()


def test_round_trip_values_and_types(tmp_path):
    t16 = vkgrad.tensor([[1.5, -2.0]], dtype="f16")
    obj = {
        "a": vkgrad.arange(5).float(),
        "half": t16,
        "same": t16,  # stored once, loaded as one tensor
        "ints": vkgrad.tensor([1, 2, 3], dtype="int32"),
        "mask": vkgrad.tensor([True, False]),
        "np": np.arange(6, dtype=np.int64).reshape(2, 3),
        "nested": {0: {"step": 3, "betas": (0.9, 0.999)}, 1: [1.0, None, "x", True]},
        "od": OrderedDict([("z", 1), ("a", 2)]),
        "inf": float("inf"),
        "scalar": vkgrad.tensor(2.5),
        "npscalar": np.float32(1.25),
    }
    path = tmp_path / "ckpt.npz"
    vkgrad.save(obj, path)
    out = vkgrad.load(path)
    assert set(out) == set(obj)
    np.testing.assert_array_equal(out["a"].numpy(), np.arange(5, dtype=np.float32))
    assert out["half"].dtype is vkgrad.float16 and out["half"].shape == (1, 2)
    np.testing.assert_array_equal(out["half"].numpy(), t16.numpy())
    assert out["same"] is out["half"]
    assert out["ints"].dtype is vkgrad.int32 and out["mask"].dtype is vkgrad.bool_
    assert out["np"].dtype == np.int64 and isinstance(out["np"], np.ndarray)
    assert out["nested"] == {0: {"step": 3, "betas": (0.9, 0.999)}, 1: [1.0, None, "x", True]}
    assert isinstance(out["od"], OrderedDict) and list(out["od"]) == ["z", "a"]
    assert out["inf"] == float("inf") and out["scalar"].shape == () and out["npscalar"] == 1.25
    assert not out["a"].requires_grad


def test_file_format_is_documented_npz(tmp_path):
    path = tmp_path / "m.npz"
    vkgrad.save({"w": vkgrad.ones(2, 3, dtype="f16"), "epoch": 7}, path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["__header__.json", "t0.npy"]
        header = json.loads(z.read("__header__.json"))
    assert header["format"] == "vkgrad" and header["version"] == 1
    entries = dict(header["tree"]["__dict__"])
    assert entries["epoch"] == 7
    assert entries["w"] == {
        "__tensor__": "t0",
        "dtype": "float16",
        "shape": [2, 3],
        "device": "cpu",
        "requires_grad": False,
        "parameter": False,
    }
    with np.load(path) as npz:  # an ordinary .npz for NumPy
        np.testing.assert_array_equal(npz["t0"], np.ones((2, 3), np.float16))


@pytest.mark.parametrize("device", DEVICES)
def test_model_and_optimizer_checkpoint_resumes_identically(tmp_path, device):
    _skip_no_vulkan(device)
    model = _model(device)
    opt = optim.AdamW(model.parameters(), lr=0.01, amsgrad=True)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    _train(model, opt, device, 3, seed=1)
    sched.step()
    path = tmp_path / "ckpt.npz"
    vkgrad.save(
        {"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict()},
        path,
    )
    ck = vkgrad.load(path)
    assert ck["model"]["0.weight"].device == vkgrad.Device.parse(device)

    model2 = _model(device)
    opt2 = optim.AdamW(model2.parameters(), lr=0.01, amsgrad=True)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optim"])
    sched2.load_state_dict(ck["sched"])
    assert opt2.param_groups[0]["betas"] == (0.9, 0.999)  # tuples survive
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        _train(m, o, device, 3, seed=2)
        s.step()
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_f16_model_with_master_weights(tmp_path):
    model = _model("cpu", "f16")
    opt = optim.Adam(model.parameters(), lr=0.01)
    _train(model, opt, "cpu", 2, seed=1)
    vkgrad.save({"model": model.state_dict(), "optim": opt.state_dict()}, tmp_path / "c.npz")
    ck = vkgrad.load(tmp_path / "c.npz")
    assert ck["model"]["0.weight"].dtype is vkgrad.float16
    assert ck["optim"]["state"][0]["master"].dtype is vkgrad.float32
    model2 = _model("cpu", "f16")
    opt2 = optim.Adam(model2.parameters(), lr=0.01)
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optim"])
    _train(model, opt, "cpu", 2, seed=2)
    _train(model2, opt2, "cpu", 2, seed=2)
    np.testing.assert_array_equal(model[2].bias.numpy(), model2[2].bias.numpy())


def test_map_location(tmp_path):
    path = tmp_path / "c.npz"
    vkgrad.save({"w": vkgrad.ones(2)}, path)
    with zipfile.ZipFile(path) as z:
        header = json.loads(z.read("__header__.json"))
    # pretend it was saved on a device that does not exist here
    header["tree"]["__dict__"][0][1]["device"] = "vulkan:99"
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(bad, "w") as zout:
        zout.writestr("__header__.json", json.dumps(header))
        zout.writestr("t0.npy", zin.read("t0.npy"))
    with pytest.raises(RuntimeError, match="saved on vulkan:99.*map_location"):
        vkgrad.load(bad)
    assert vkgrad.load(bad, map_location="cpu")["w"].device == vkgrad.Device.parse("cpu")
    assert vkgrad.load(bad, map_location=lambda saved: "cpu")["w"].numpy().tolist() == [1, 1]


def test_parameters_keep_their_kind(tmp_path):
    p = nn.Parameter(vkgrad.ones(3))
    vkgrad.save({"p": p, "ps": [p]}, tmp_path / "p.npz")
    out = vkgrad.load(tmp_path / "p.npz")
    assert isinstance(out["p"], nn.Parameter) and out["p"].requires_grad
    assert out["ps"][0] is out["p"]


def test_wrong_keys_and_shapes_are_listed(tmp_path):
    vkgrad.save(nn.Linear(4, 3).state_dict(), tmp_path / "lin.npz")
    sd = vkgrad.load(tmp_path / "lin.npz")
    with pytest.raises(RuntimeError) as e:
        nn.Linear(4, 5).load_state_dict(sd)
    msg = str(e.value)
    assert "size mismatch for weight" in msg and "(3, 4)" in msg and "(5, 4)" in msg
    assert "size mismatch for bias" in msg
    with pytest.raises(RuntimeError) as e:
        nn.Sequential(nn.Linear(4, 3)).load_state_dict(sd)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "0.weight", "0.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "weight", "bias"' in msg


def test_unsupported_objects_and_bad_files(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save a set at obj\['x'\]"):
        vkgrad.save({"x": {1, 2}}, tmp_path / "s.npz")
    assert not (tmp_path / "s.npz").exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(RuntimeError, match="not a vkgrad checkpoint"):
        vkgrad.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(RuntimeError, match="__header__.json"):
        vkgrad.load(tmp_path / "plain.npz")


def test_file_objects(tmp_path):
    import io

    buf = io.BytesIO()
    vkgrad.save({"w": vkgrad.ones(2)}, buf)
    buf.seek(0)
    assert vkgrad.load(buf)["w"].numpy().tolist() == [1.0, 1.0]


def test_crash_during_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    vkgrad.save({"v": vkgrad.ones(3), "epoch": 1}, path)
    before = path.read_bytes()

    calls = []
    real = np.lib.format.write_array

    def failing(fp, arr, *a, **k):
        calls.append(1)
        if len(calls) == 2:  # the first array is already written when the "crash" happens
            raise OSError("disk full")
        return real(fp, arr, *a, **k)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        vkgrad.save({"v": vkgrad.zeros(3), "w": vkgrad.zeros(1000), "epoch": 2}, path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    assert vkgrad.load(path)["epoch"] == 1


def test_killed_process_during_save_keeps_the_old_file(tmp_path):
    # A hard kill (no exception handlers run) in the middle of writing the new file.
    path = tmp_path / "ckpt.npz"
    script = f"""
import os, numpy as np, vkgrad
vkgrad.save({{"epoch": 1, "w": vkgrad.ones(4)}}, {str(path)!r})
real = np.lib.format.write_array
def die(fp, arr, *a, **k):
    real(fp, arr, *a, **k)
    fp.flush() if hasattr(fp, "flush") else None
    os._exit(3)
np.lib.format.write_array = die
vkgrad.save({{"epoch": 2, "w": vkgrad.zeros(10000)}}, {str(path)!r})
"""
    env = dict(os.environ, PYTHONPATH=str(Path(vkgrad.__file__).parents[1]))
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert r.returncode == 3, r.stderr.decode()
    out = vkgrad.load(path)
    assert out["epoch"] == 1
    np.testing.assert_array_equal(out["w"].numpy(), np.ones(4, np.float32))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ckpt.npz"]
    assert all(n.startswith(".ckpt.npz.") and n.endswith(".tmp") for n in leftovers)


# ---------------------------------------------------------------- damaged files


def _checkpoint(tmp_path, name="c.npz"):
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.1)
    _train(model, opt, "cpu", 2, 0)
    path = tmp_path / name
    vkgrad.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3}, path)
    return model, path


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.98])
def test_a_truncated_checkpoint_is_refused_whole(tmp_path, cut):
    _, path = _checkpoint(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(RuntimeError, match=r"cut\.npz.*(corrupted or truncated|not a vkgrad)"):
        vkgrad.load(bad)


def test_a_corrupted_array_is_refused_and_the_model_keeps_its_weights(tmp_path):
    model, path = _checkpoint(tmp_path)
    # Flip bytes inside the last stored array (its data, past the zip and .npy headers).
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        last = z.infolist()[-1]
    start = last.header_offset + 30 + len(last.filename) + 80
    data[start : start + 8] = bytes(8 * [0xFF])
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    target = _model()
    before = {k: v.numpy().copy() for k, v in target.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"flipped\.npz is corrupted or truncated"):
        target.load_state_dict(vkgrad.load(bad)["model"])
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


# ---------------------------------------------------------------- safetensors


def test_safetensors_round_trip_of_a_nested_checkpoint(tmp_path, device):
    _skip_no_vulkan(device)
    pytest.importorskip("safetensors")
    model = _model(device)
    opt = optim.Adam(model.parameters(), lr=0.1)
    _train(model, opt, device, 2, 0)
    obj = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3, "tag": "run-1"}
    path = tmp_path / "ckpt.safetensors"
    vkgrad.save(obj, path)
    back = vkgrad.load(path)
    assert back["epoch"] == 3 and back["tag"] == "run-1"
    for k, v in obj["model"].items():
        assert back["model"][k].device == v.device
        np.testing.assert_array_equal(back["model"][k].numpy(), v.numpy())
    assert back["opt"]["param_groups"] == obj["opt"]["param_groups"]


def test_safetensors_written_by_vkgrad_read_by_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    model = _model()
    path = tmp_path / "model.safetensors"
    vkgrad.save(model.state_dict(), path)
    loaded = st.load_file(str(path))
    assert set(loaded) == set(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(loaded[k].numpy(), v.numpy())
    assert loaded["0.weight"].dtype == torch.float32


def test_safetensors_written_by_pytorch_load_into_a_vkgrad_model(tmp_path, device):
    _skip_no_vulkan(device)
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    extra = {"step": torch.tensor([7], dtype=torch.int64)}  # int64, as PyTorch stores counts
    path = tmp_path / "torch.safetensors"
    st.save_file({**tm.state_dict(), **extra}, str(path))
    loaded = vkgrad.load(path, map_location=device)
    assert loaded["step"].dtype is vkgrad.int32 and loaded["step"].numpy().tolist() == [7]
    del loaded["step"]
    model = _model(device)
    model.load_state_dict(loaded)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    want = tm(torch.from_numpy(x)).detach().numpy()
    got = model(vkgrad.tensor(x, device=device)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_truncated_safetensors_file_is_refused(tmp_path):
    pytest.importorskip("safetensors")
    _, path = _checkpoint(tmp_path, "c.safetensors")
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(RuntimeError, match=r"cut\.safetensors is corrupted or truncated"):
        vkgrad.load(bad)
