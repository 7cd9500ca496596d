"""Random numbers: Philox4x32-10 against its published answers, the same draws on the cpu and
Vulkan, draws inside captured steps (fresh on every replay, equal to the eager ones), the
generators' state API, and the statistics of the draws.

Expected values come from tests/philox_ref.py (an independent Philox and the documented
transforms) or from the published test vectors, never from vkgrad.
"""

from __future__ import annotations

import numpy as np
import philox_ref
import pytest
from conftest import vulkan_param

import vkgrad
import vkgrad.nn.functional as F
from vkgrad import nn, optim
from vkgrad import random as vrandom
from vkgrad.backends.numpy_kernels.random import philox4x32_10
from vkgrad.capturing import CaptureError

VULKAN = [vulkan_param("vulkan", id="vulkan")]
CAPTURE_CASES = ["cpu", vulkan_param("vulkan", id="vulkan")]

# Random123 (https://github.com/DEShawResearch/random123), tests/kat_vectors at commit
# 9545ff6413f258be2f04c1d319d99aaef7521150 (release v1.14.0), lines 27-29: "philox4x32 10",
# then the counter (4 words), the key (2 words) and the expected output (4 words).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    (
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        (0xFFFFFFFF, 0xFFFFFFFF),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


def _bits(gen, n: int) -> np.ndarray:
    """n raw words of gen's next draw (the rng_bits row), as uint32."""
    st = vrandom.state(gen, gen.device, "test")
    out = vkgrad.functional.call("rng_bits", st, shape=(n,))
    vrandom.advance(st, -(-n // 4))
    return out.numpy().view(np.uint32)


def _offset(gen) -> int:
    w = gen.get_state().numpy().view(np.uint32).astype(np.uint64)
    return int(w[2]) | int(w[3]) << 32


# ---------------------------------------------------------------- Philox itself


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_philox_known_answers(ctr, key, want):
    assert philox_ref.philox_int(ctr, key) == want
    got = philox4x32_10(*[np.array([c], np.uint32) for c in ctr], *key)
    assert tuple(int(g[0]) for g in got) == want


def test_reference_blocks_agree_with_the_scalar_philox():
    # The vectorised reference against the scalar one, across a carry into the counter's
    # high word.
    seed, offset = 0x0123456789ABCDEF, (1 << 32) - 3
    got = philox_ref.blocks(seed, offset, 6)
    for b in range(6):
        c = offset + b
        want = philox_ref.philox_int(
            (c & 0xFFFFFFFF, c >> 32, 0, 0), (seed & 0xFFFFFFFF, seed >> 32)
        )
        assert tuple(int(x) for x in got[b]) == want


def test_device_draw_of_seed_0_is_the_zero_known_answer(device):
    # Seed 0 at offset 0: the first block is Philox of counter 0 and key 0.
    g = vkgrad.Generator(device).manual_seed(0)
    np.testing.assert_array_equal(_bits(g, 4), KAT[0][2])


def test_device_bits_follow_the_counter_across_a_word_carry(device):
    # An offset just below 2^32: the counter's low word wraps and carries into the high one.
    g = vkgrad.Generator(device)
    g.set_state(vkgrad.tensor(np.array([5, 7, 2**32 - 2, 0], np.uint32).view(np.int32)))
    want = philox_ref.words(5 | 7 << 32, 4 * 5, offset=2**32 - 2)
    np.testing.assert_array_equal(_bits(g, 20), want)
    assert _offset(g) == 2**32 + 3


# ---------------------------------------------------------------- the same numbers everywhere


@pytest.mark.parametrize("dev", VULKAN)
@pytest.mark.parametrize("dt", ["f32", "f16"])
def test_same_seed_same_numbers_on_cpu_and_vulkan(dev, dt):
    def draws(where):
        g = vkgrad.Generator(where).manual_seed(2024)
        x = vkgrad.ones(4, 8, 5, dtype=dt, device=where)
        p = vkgrad.tensor(np.linspace(0, 1, 1001), dtype=dt, device=where)
        return [
            _bits(g, 1001),
            vkgrad.rand(1001, generator=g, dtype=dt, device=where).numpy(),
            vkgrad.randint(-7, 1000, (1001,), generator=g, device=where).numpy(),
            vkgrad.bernoulli(p, generator=g).numpy(),
            F.dropout(x, 0.3, generator=g).numpy(),
            F.dropout2d(x, 0.5, generator=g).numpy(),
            vkgrad.randperm(257, generator=g, device=where).numpy(),
            vkgrad.zeros(33, dtype=dt, device=where).uniform_(-1, 3, generator=g).numpy(),
        ]

    cpu, gpu = draws("cpu"), draws(dev)
    for i, (a, b) in enumerate(zip(cpu, gpu)):
        np.testing.assert_array_equal(a, b, err_msg=f"draw {i}")
    np.testing.assert_array_equal(cpu[0], philox_ref.words(2024, 1001))


@pytest.mark.parametrize("dev", VULKAN)
def test_normals_agree_within_the_stated_tolerance(dev):
    # docs/random.md: Box-Muller's log, sqrt, cos and sin are the device's; on lavapipe the
    # draws agree with the cpu's to 2e-6 absolute (|z| < 6).
    n = 1 << 18
    a = vkgrad.randn(n, generator=vkgrad.Generator("cpu").manual_seed(3)).numpy()
    b = vkgrad.randn(n, generator=vkgrad.Generator(dev).manual_seed(3), device=dev).numpy()
    ref = philox_ref.normal(3, n)
    assert np.abs(a - b).max() <= 2e-6
    assert np.abs(a - ref).max() <= 2e-6
    assert np.abs(b - ref).max() <= 2e-6


def test_default_generators_repeat_per_device_after_manual_seed(device):
    vkgrad.manual_seed(77)
    a = vkgrad.rand(100, device=device, dtype="f32").numpy()
    b = vkgrad.rand(100, device=device, dtype="f32").numpy()
    vkgrad.manual_seed(77)
    np.testing.assert_array_equal(vkgrad.rand(100, device=device, dtype="f32").numpy(), a)
    assert (a != b).any()
    np.testing.assert_array_equal(a, philox_ref.uniform(77, 100).astype(np.float32))
    np.testing.assert_array_equal(b, philox_ref.uniform(77, 100, offset=25).astype(np.float32))


# ---------------------------------------------------------------- what each draw uses


def test_offsets_advance_by_the_blocks_used():
    g = vkgrad.Generator().manual_seed(1)
    steps = [
        (lambda: vkgrad.rand(10, generator=g), 3),  # 10 words
        (lambda: vkgrad.rand(10, generator=g, dtype="f64"), 5),  # 53 bits: two words each
        (lambda: vkgrad.randn(9, generator=g), 3),  # four normals per block
        (lambda: vkgrad.randn(9, generator=g, dtype="f64"), 5),  # two per block
        (lambda: F.dropout(vkgrad.ones(2, 6, 5), 0.5, generator=g), 15),
        (lambda: F.dropout2d(vkgrad.ones(2, 6, 5, 1), 0.5, generator=g), 3),  # 12 channels
        (lambda: vkgrad.randperm(6, generator=g), 3),  # two words per key
        (lambda: vkgrad.rand(0, generator=g), 0),
    ]
    for i, (draw, blocks) in enumerate(steps):
        before = _offset(g)
        draw()
        assert _offset(g) - before == blocks, f"step {i}"


def test_float64_draws_use_53_bits():
    g = vkgrad.Generator().manual_seed(8)
    x = vkgrad.rand(4096, generator=g, dtype="f64").numpy()
    w = philox_ref.words(8, 2 * 4096)
    want = ((w[0::2] >> np.uint64(5)) * 2.0**26 + (w[1::2] >> np.uint64(6))) / 2.0**53
    np.testing.assert_array_equal(x, want)
    assert (x * 2**24 % 1 != 0).mean() > 0.99  # not the f32 grid widened


def test_uniform_and_normal_in_place(device):
    g = vkgrad.Generator(device).manual_seed(19)
    t = vkgrad.zeros(3, 7, device=device, dtype="f32")
    assert t.uniform_(-2.0, 0.5, generator=g) is t
    u = philox_ref.uniform(19, 21).astype(np.float32).reshape(3, 7)
    np.testing.assert_array_equal(t.numpy(), np.float32(-2.0) + u * np.float32(2.5))
    t.normal_(1.5, 0.25, generator=g)
    z = philox_ref.normal(19, 21, offset=6).reshape(3, 7)
    np.testing.assert_allclose(t.numpy(), 1.5 + 0.25 * z, rtol=0, atol=2e-6)
    t.bernoulli_(0.25, generator=g)
    keep = philox_ref.uniform(19, 21, offset=12).reshape(3, 7) < np.float32(0.25)
    np.testing.assert_array_equal(t.numpy(), keep.astype(np.float32))


def test_init_functions_take_a_generator(device):
    w = vkgrad.zeros(5, 6, device=device, dtype="f32")
    nn.init.uniform_(w, -0.5, 0.5, generator=vkgrad.Generator(device).manual_seed(4))
    u = philox_ref.uniform(4, 30).astype(np.float32).reshape(5, 6)
    np.testing.assert_array_equal(w.numpy(), np.float32(-0.5) + u * np.float32(1.0))
    for init in (
        nn.init.normal_,
        nn.init.xavier_uniform_,
        nn.init.xavier_normal_,
        nn.init.kaiming_uniform_,
        nn.init.kaiming_normal_,
        nn.init.trunc_normal_,
        nn.init.orthogonal_,
    ):
        a = init(w, generator=vkgrad.Generator(device).manual_seed(6)).numpy().copy()
        b = init(w, generator=vkgrad.Generator(device).manual_seed(6)).numpy()
        c = init(w, generator=vkgrad.Generator(device).manual_seed(7)).numpy()
        np.testing.assert_array_equal(a, b, err_msg=init.__name__)
        assert (a != c).any(), init.__name__


# ---------------------------------------------------------------- the state API


def test_rng_state_round_trip(device):
    vkgrad.manual_seed(5)
    vkgrad.rand(13, device=device)
    state = vkgrad.get_rng_state(device)
    assert state.dtype is vkgrad.int32 and tuple(state.shape) == (4,)
    assert state.device == vkgrad.Device.parse("cpu")
    np.testing.assert_array_equal(state.numpy().view(np.uint32), [5, 0, 4, 0])
    a = vkgrad.rand(50, device=device).numpy()
    vkgrad.rand(9, device=device)
    vkgrad.set_rng_state(state, device)
    np.testing.assert_array_equal(vkgrad.rand(50, device=device).numpy(), a)
    assert vkgrad.initial_seed() == 5


def test_generator_api(device):
    g = vkgrad.Generator(device)
    assert g.device == vkgrad.Device.parse(device)
    assert g.initial_seed() == 67280421310721  # PyTorch's default seed
    assert g.manual_seed(-1) is g
    assert g.initial_seed() == 2**64 - 1  # negative seeds wrap, as PyTorch's
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2**64
    g.manual_seed(3)
    vkgrad.rand(5, generator=g, device=device)
    saved = g.get_state()
    a = vkgrad.rand(40, generator=g, device=device).numpy()
    other = vkgrad.Generator("cpu").set_state(saved)  # a state moves between devices
    np.testing.assert_array_equal(vkgrad.rand(40, generator=other).numpy(), a)
    g.set_state(saved)
    np.testing.assert_array_equal(vkgrad.rand(40, generator=g, device=device).numpy(), a)
    assert g.initial_seed() == 3


def test_generators_are_isolated_from_the_global_state(device):
    vkgrad.manual_seed(10)
    ref = vkgrad.rand(64, device=device).numpy()
    vkgrad.manual_seed(10)
    g = vkgrad.Generator(device).manual_seed(10)
    own = vkgrad.rand(64, generator=g, device=device).numpy()
    np.testing.assert_array_equal(own, ref)  # same seed, same numbers
    # Drawing from g left the default generator where it was, and seeding the default
    # generators leaves g alone.
    np.testing.assert_array_equal(vkgrad.rand(64, device=device).numpy(), ref)
    vkgrad.manual_seed(99)
    np.testing.assert_array_equal(
        vkgrad.rand(64, generator=g, device=device).numpy(),
        philox_ref.uniform(10, 64, offset=16).astype(np.float32),
    )


def test_bad_generators_and_arguments_name_the_op():
    g = vkgrad.Generator("cpu")
    with pytest.raises(TypeError, match="rand: generator must be a vkgrad.Generator"):
        vkgrad.rand(3, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"randint: expects low < high"):
        vkgrad.randint(5, 5, (2,), generator=g)
    with pytest.raises(ValueError, match="randint: .* does not fit int32"):
        vkgrad.randint(0, 2**31 + 1, (2,), generator=g)
    with pytest.raises(ValueError, match=r"bernoulli: p must be in \[0, 1\]"):
        vkgrad.bernoulli(vkgrad.ones(3), 1.5)
    with pytest.raises(ValueError, match="normal_: expects std >= 0.0"):
        vkgrad.zeros(3).normal_(0.0, -1.0)
    with pytest.raises(ValueError, match="uniform_: expects from <= to"):
        vkgrad.zeros(3).uniform_(1.0, 0.0)
    with pytest.raises(RuntimeError, match="multinomial: .* negative"):
        vkgrad.multinomial(vkgrad.tensor([0.5, -0.1]), 1)
    with pytest.raises(RuntimeError, match="multinomial: cannot sample 3 samples"):
        vkgrad.multinomial(vkgrad.tensor([0.5, 0.0, 1.0]), 3)
    with pytest.raises(TypeError, match="Generator.set_state"):
        g.set_state(np.zeros(4, np.int32))
    with pytest.raises(TypeError, match="manual_seed: seed must be an int"):
        vkgrad.manual_seed(1.5)
    with pytest.raises(TypeError, match="rand: draws floating-point values"):
        vkgrad.rand(3, dtype="int32")


@pytest.mark.parametrize("dev", VULKAN)
def test_a_generator_draws_on_its_own_device(dev):
    with pytest.raises(RuntimeError, match=r"randn: the generator is on cpu but the draw is on"):
        vkgrad.randn(3, generator=vkgrad.Generator("cpu"), device=dev)


# ---------------------------------------------------------------- statistics
# Fixed seeds make these exact; the bounds are 6 standard deviations of each statistic, which
# a fair generator misses with probability < 2e-9 and a biased or constant one cannot meet.


def test_uniform_statistics():
    n = 1 << 20
    x = vkgrad.rand(n, generator=vkgrad.Generator().manual_seed(101)).numpy().astype(np.float64)
    assert 0.0 <= x.min() and x.max() < 1.0
    assert abs(x.mean() - 0.5) <= 6 * np.sqrt(1 / 12 / n)
    assert abs(x.var() - 1 / 12) <= 6 * np.sqrt((1 / 80 - 1 / 144) / n)
    # lag-1 correlation ~ N(0, 1/n)
    c = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert abs(c) <= 6 / np.sqrt(n)
    # every tenth of [0, 1) holds n/10 +- 6 sd
    counts = np.bincount((x * 10).astype(int), minlength=10)
    assert np.all(np.abs(counts - n / 10) <= 6 * np.sqrt(n * 0.1 * 0.9))


def test_normal_statistics():
    n = 1 << 20
    z = vkgrad.randn(n, generator=vkgrad.Generator().manual_seed(102)).numpy().astype(np.float64)
    assert abs(z.mean()) <= 6 / np.sqrt(n)
    assert abs(z.var() - 1.0) <= 6 * np.sqrt(2 / n)
    # the fraction within one standard deviation: 0.682689...
    q = 0.6826894921370859
    assert abs((np.abs(z) < 1).mean() - q) <= 6 * np.sqrt(q * (1 - q) / n)
    # the fourth moment (3 for a normal; its estimate has variance 96 / n)
    assert abs((z**4).mean() - 3.0) <= 6 * np.sqrt(96 / n)
    # the cos and sin halves of each pair are uncorrelated
    c = np.corrcoef(z[0::2], z[1::2])[0, 1]
    assert abs(c) <= 6 / np.sqrt(n / 2)


def test_randint_randperm_multinomial_statistics():
    g = vkgrad.Generator().manual_seed(103)
    n = 1 << 18
    r = vkgrad.randint(-3, 4, (n,), generator=g).numpy()
    counts = np.bincount(r + 3, minlength=7)
    assert r.min() == -3 and r.max() == 3
    assert np.all(np.abs(counts - n / 7) <= 6 * np.sqrt(n / 7 * 6 / 7))
    perm = vkgrad.randperm(1000, generator=g).numpy()
    assert sorted(perm.tolist()) == list(range(1000))
    firsts = np.array([int(vkgrad.randperm(5, generator=g).numpy()[0]) for _ in range(2000)])
    assert np.all(np.abs(np.bincount(firsts, minlength=5) - 400) <= 6 * np.sqrt(2000 * 0.2 * 0.8))
    w = vkgrad.tensor([1.0, 0.0, 3.0])
    m = vkgrad.multinomial(w, 40000, replacement=True, generator=g).numpy()
    assert not (m == 1).any()
    assert abs((m == 2).mean() - 0.75) <= 6 * np.sqrt(0.75 * 0.25 / 40000)


# ---------------------------------------------------------------- inside captured steps


def _mlp(device, seed=0):
    vkgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 5)).to(
        device=device, dtype="f32"
    )


def _train(device, captured: bool, steps: int = 6):
    """Losses, parameters and the dropout masks of ``steps`` training steps, eager or
    through vkgrad.capture, from the same seed."""
    model = _mlp(device)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x = vkgrad.tensor(rng.standard_normal((16, 12)), device=device, dtype="f32")
    y = vkgrad.tensor(rng.integers(0, 5, 16).astype(np.int32), device=device)
    vkgrad.manual_seed(1234)  # the draws of the steps, after the init's

    def step(x, y):
        opt.zero_grad()
        h = model[1](model[0](x))
        d = F.dropout(h + 1.0, 0.5)  # h + 1 > 0: d != 0 is the mask itself
        c = F.dropout1d(h.reshape(16, 4, 8), 0.25)
        e = F.dropout2d(h.reshape(16, 4, 4, 2), 0.25)
        loss = F.cross_entropy(model[3](d), y) + (c.sum() + e.sum()) * 1e-3
        loss.backward()
        opt.step()
        return loss, d, c, e, vkgrad.rand(7, device=x.device), vkgrad.bernoulli(h * 0 + 0.5)

    fn = vkgrad.capture(step) if captured else step
    out = []
    for _ in range(steps):
        loss, d, c, e, r, b = fn(x, y)
        out.append(
            (
                loss.numpy().copy(),
                d.numpy() != 0,
                c.numpy() != 0,
                e.numpy() != 0,
                r.numpy().copy(),
                b.numpy().copy(),
                [p.numpy().copy() for p in model.parameters()],
            )
        )
    return out, fn


@pytest.mark.parametrize("device", CAPTURE_CASES)
def test_captured_dropout_step_matches_its_eager_twin(device):
    eager, _ = _train(device, captured=False)
    captured, fn = _train(device, captured=True)
    assert fn.replays == 4 and len(fn.graphs) == 1  # recorded once, then replayed
    for i, (a, b) in enumerate(zip(eager, captured)):
        for k in range(1, 6):  # masks and draws: exactly the eager sequence
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"step {i}, draw {k}")
        if device == "cpu":
            np.testing.assert_array_equal(a[0], b[0], err_msg=f"step {i} loss")
            for p, q in zip(a[6], b[6]):
                np.testing.assert_array_equal(p, q, err_msg=f"step {i} parameters")
        else:
            np.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-6)
            for p, q in zip(a[6], b[6]):
                np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-6)
    for i in range(1, len(captured)):
        for k in (1, 4):  # each replay draws a fresh mask and fresh numbers
            assert (captured[i][k] != captured[i - 1][k]).any(), f"step {i} repeated draw {k}"
    # the masks are the documented ones: step i's first dropout is the first draw of it
    first = philox_ref.dropout_keep(1234, 16 * 32, 0.5).reshape(16, 32)
    np.testing.assert_array_equal(captured[0][1], first)
    # training went somewhere
    assert captured[-1][0] < captured[0][0]


@pytest.mark.parametrize("device", CAPTURE_CASES)
def test_replays_draw_from_the_generator_state_on_the_device(device):
    g = vkgrad.Generator(device).manual_seed(5)

    @vkgrad.capture
    def draw(x):
        return x + vkgrad.rand(x.shape, generator=g, device=x.device, dtype="f32")

    x = vkgrad.zeros(10, device=device, dtype="f32")
    got = [draw(x).numpy().copy() for _ in range(4)]
    for i, v in enumerate(got):
        np.testing.assert_array_equal(v, philox_ref.uniform(5, 10, offset=3 * i).astype(np.float32))
    # Seeding between replays: the recording reads the same state array, now reseeded.
    g.manual_seed(5)
    np.testing.assert_array_equal(draw(x).numpy(), got[0])
    assert draw.replays == 3


@pytest.mark.parametrize("device", CAPTURE_CASES)
def test_seeding_inside_a_captured_step_is_replayed(device):
    g = vkgrad.Generator(device)

    def draw(x):
        g.manual_seed(21)  # each call, eager or replayed, starts the stream again
        return x + vkgrad.rand(x.shape, generator=g, device=x.device, dtype="f32")

    x = vkgrad.zeros(6, device=device, dtype="f32")
    step = vkgrad.capture(draw)
    want = philox_ref.uniform(21, 6).astype(np.float32)
    for _ in range(4):
        np.testing.assert_array_equal(step(x).numpy(), want)
    assert step.replays == 2
    # A Generator made inside the step starts from its seed on every call too.
    made = vkgrad.capture(
        lambda x: x + vkgrad.rand(
            x.shape, generator=vkgrad.Generator(x.device).manual_seed(21), device=x.device,
            dtype="f32",
        )
    )  # fmt: skip
    for _ in range(4):
        np.testing.assert_array_equal(made(x).numpy(), want)


@pytest.mark.parametrize("device", CAPTURE_CASES)
def test_captured_attention_dropout_matches_eager(device):
    rng = np.random.default_rng(3)
    q, k, v = (
        vkgrad.tensor(
            rng.standard_normal((2, 5, 4)), device=device, dtype="f32", requires_grad=True
        )
        for _ in range(3)
    )

    def step():
        for t in (q, k, v):
            t.grad = None
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
        o.sum().backward()
        return o, q.grad

    runs = []
    for fn in (step, vkgrad.capture(step)):
        vkgrad.manual_seed(8)
        runs.append([tuple(t.numpy().copy() for t in fn()) for _ in range(4)])
    for (o1, g1), (o2, g2) in zip(*runs):
        np.testing.assert_allclose(o1, o2, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(g1, g2, rtol=1e-6, atol=1e-6)
    assert (runs[1][2][0] != runs[1][3][0]).any()


@pytest.mark.parametrize("device", CAPTURE_CASES)
def test_host_draws_and_seeding_are_refused_inside_a_capture(device):
    x = vkgrad.ones(5, device=device)
    cases = [
        (lambda x: x[vkgrad.randperm(5, device=x.device)], "randperm"),
        (lambda x: vkgrad.multinomial(x, 2).to(x.dtype), "multinomial"),
        (lambda x: (vkgrad.manual_seed(0), x * 2)[1], "manual_seed"),
        (lambda x: (vkgrad.get_rng_state(x.device), x * 2)[1], "get_state"),
    ]
    for fn, name in cases:
        cap = vkgrad.capture(fn)
        cap(x)  # eager
        with pytest.raises(CaptureError, match=name):
            cap(x)


# ---------------------------------------------------------------- host-side users


def test_dataloader_shuffles_from_the_generator():
    ds = vkgrad.data.TensorDataset(vkgrad.arange(20))

    def order(**kw):
        return [
            int(v) for (b,) in vkgrad.data.DataLoader(ds, 20, shuffle=True, **kw) for v in b.numpy()
        ]

    g = vkgrad.Generator().manual_seed(3)
    a = order(generator=g)
    np.testing.assert_array_equal(
        a,
        np.argsort(
            (lambda w: (w[0::2] << np.uint64(32)) | w[1::2])(philox_ref.words(3, 40)), kind="stable"
        ),
    )
    assert order(generator=vkgrad.Generator().manual_seed(3)) == a
    vkgrad.manual_seed(3)
    b = order()
    vkgrad.manual_seed(3)
    assert order() == b == a  # the default generator, seeded alike
