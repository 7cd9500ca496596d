"""Convolution and pooling: conv1d/conv2d/conv_transpose2d, max/avg pooling, adaptive average
pooling.

The family's rows (added to ``ops.OPS``), their backward rules and the public functions.

Every kernel here works on (N, C, H, W) images; the 1-d forms run as images of height 1. The
rows are of kind ``window`` (``backends/vulkan/kinds/window.py``) and share one geometry:

``image``     (C, H, W) of the image side (the input of conv2d, im2col and the pools)
``grid``      (Ho, Wo): the window positions (their outputs)
``kernel``    (kh, kw), ``stride`` (sh, sw), ``dilation`` (dh, dw)
``padding``   (top, left): the offset of window (0, 0); padding at the bottom/right is implied
              by ``grid`` (so "same" with an even kernel pads one more on the right, as PyTorch)

Convolution is three direct rows (conv2d, its input gradient, its weight gradient), each one
thread per output element on Vulkan: on few channels a tiled GEMM over im2col columns wastes
most of each 64x64 tile, and on CPU Vulkan its barriers dominate (measured 3-4x slower on
lavapipe for a 16-channel 3x3 layer). The NumPy kernels use strided windows and BLAS.
conv_transpose2d is the input-gradient row. Every backward row gathers (each pixel sums the
windows that cover it), so none needs atomics. im2col/col2im are ``unfold``/``fold``.

Max pooling is an argmax row (int32 flat indices, as PyTorch's ``return_indices``) and a gather
row; its backward gathers, per pixel, the gradients of the windows whose argmax it is. Average
pools are linear rows whose backward rows are their adjoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

from .. import autocasting
from .. import functional as F
from ..ops import row

if TYPE_CHECKING:
    from ..tensor import Tensor

Size = Union[int, tuple]  # an int for every spatial dim, or one per dim

# Public names: ``vkgrad.<name>`` and ``vkgrad.functional.<name>``.
__all__: list[str] = []
# Names exported by ``vkgrad.nn.functional``.
NN_FUNCTIONAL: list[str] = [
    "unfold",
    "fold",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "conv_transpose1d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
]
# Exported by ``vkgrad.functional`` only: helpers other families and layers use.
FUNCTIONAL: list[str] = []
# Tensor methods: {method name: function(self, ...)}.
TENSOR_METHODS: dict = {}

_GEOMETRY = ("image", "grid", "kernel", "stride", "padding", "dilation")

# ---------------------------------------------------------------- row shapes


def _expect(op: str, got: tuple, want: tuple, what: str) -> None:
    if tuple(got) != tuple(want):
        raise ValueError(f"{op}: expected {what} of shape {tuple(want)}, got {tuple(got)}")


def _batch(op: str, x: tuple) -> int:
    if len(x) < 1:
        raise ValueError(f"{op}: expected a batched input, got shape {tuple(x)}")
    return x[0]


def _shape_im2col(s, a):
    c, h, w = a["image"]
    n = _batch("im2col", s[0])
    _expect("im2col", s[0], (n, c, h, w), "input")
    return (n, c * a["kernel"][0] * a["kernel"][1], a["grid"][0] * a["grid"][1])


def _shape_col2im(s, a):
    c, h, w = a["image"]
    n = _batch("col2im", s[0])
    _expect("col2im", s[0], _shape_im2col([(n, c, h, w)], a), "columns")
    return (n, c, h, w)


def _pool_shape(op: str):
    def shape(s, a):
        c, h, w = a["image"]
        n = _batch(op, s[0])
        _expect(op, s[0], (n, c, h, w), "input")
        out = (n, c) + tuple(a["grid"])
        for extra in s[1:]:
            _expect(op, extra, out, "indices")
        return out

    return shape


def _unpool_shape(op: str):
    def shape(s, a):
        c, h, w = a["image"]
        n = _batch(op, s[0])
        grid = (n, c) + tuple(a["grid"])
        for x in s:
            _expect(op, x, grid, "gradient/indices")
        return (n, c, h, w)

    return shape


# ---------------------------------------------------------------- rules


def _adjoint(kernel: str, nin: int = 1):
    """Rule of a linear row whose adjoint is the row ``kernel`` (same attrs, same extra inputs:
    the int32 indices of max pooling)."""

    def rule(ctx, g):
        extra = ctx.inputs[1:] if nin > 1 else ()
        return (F.call(kernel, g, *extra, **ctx.attrs),) + (None,) * (nin - 1)

    return rule


row("im2col", "window", 1, _adjoint("col2im"), attrs=_GEOMETRY, shape=_shape_im2col)
row("col2im", "window", 1, _adjoint("im2col"), attrs=_GEOMETRY, shape=_shape_col2im)

# Convolution, direct: x (N, C, H, W) and w (C_out, C/groups, kh, kw) -> y (N, C_out, Ho, Wo),
# and its two backward rows. The three are bilinear and each one's adjoints are the other two,
# so their rules close the family (double backward included).
_CONV = _GEOMETRY + ("out_channels", "groups")


def _conv_shapes(a) -> tuple:
    c, h, w = a["image"]
    cout, groups = a["out_channels"], a["groups"]
    return (c, h, w), (cout, c // groups) + tuple(a["kernel"]), (cout,) + tuple(a["grid"])


def _shape_conv(s, a):
    image, wshape, grid = _conv_shapes(a)
    n = _batch("conv2d", s[0])
    _expect("conv2d", s[0], (n,) + image, "input")
    _expect("conv2d", s[1], wshape, "weight")
    return (n,) + grid


def _shape_conv_bw_input(s, a):
    image, wshape, grid = _conv_shapes(a)
    n = _batch("conv2d_backward_input", s[0])
    _expect("conv2d_backward_input", s[0], (n,) + grid, "gradient")
    _expect("conv2d_backward_input", s[1], wshape, "weight")
    return (n,) + image


def _shape_conv_bw_weight(s, a):
    image, wshape, grid = _conv_shapes(a)
    n = _batch("conv2d_backward_weight", s[0])
    _expect("conv2d_backward_weight", s[0], (n,) + image, "input")
    _expect("conv2d_backward_weight", s[1], (n,) + grid, "gradient")
    return wshape


def _conv_rule(ctx, g):
    x, w = ctx.inputs
    need_x, need_w = ctx.needs_input_grad
    gx = F.call("conv2d_backward_input", g, w, **ctx.attrs) if need_x else None
    gw = F.call("conv2d_backward_weight", x, g, **ctx.attrs) if need_w else None
    return gx, gw


def _conv_bw_input_rule(ctx, h):
    # out = dx(g, w): <h, dx(g, w)> = <conv(h, w), g> = <w, dw(h, g)>
    g, w = ctx.inputs
    need_g, need_w = ctx.needs_input_grad
    gg = F.call("conv2d", h, w, **ctx.attrs) if need_g else None
    gw = F.call("conv2d_backward_weight", h, g, **ctx.attrs) if need_w else None
    return gg, gw


def _conv_bw_weight_rule(ctx, h):
    # out = dw(x, g): <h, dw(x, g)> = <conv(x, h), g> = <x, dx(g, h)>
    x, g = ctx.inputs
    need_x, need_g = ctx.needs_input_grad
    gx = F.call("conv2d_backward_input", g, h, **ctx.attrs) if need_x else None
    gg = F.call("conv2d", x, h, **ctx.attrs) if need_g else None
    return gx, gg


row(
    "conv2d",
    "window",
    2,
    _conv_rule,
    attrs=_CONV,
    saves="i",
    shape=_shape_conv,
)
row(
    "conv2d_backward_input",
    "window",
    2,
    _conv_bw_input_rule,
    attrs=_CONV,
    saves="i",
    shape=_shape_conv_bw_input,
)
row(
    "conv2d_backward_weight",
    "window",
    2,
    _conv_bw_weight_rule,
    attrs=_CONV,
    saves="i",
    shape=_shape_conv_bw_weight,
)

# Max pooling: flat argmax per window (first max; -1 for a window of padding only), then a
# gather of the values; the gather's adjoint sends each window's gradient to its argmax.
row(
    "max_pool2d_index",
    "window",
    1,
    attrs=_GEOMETRY,
    out_dtype="int32",
    shape=_pool_shape("max_pool2d"),
)
row(
    "max_pool2d",
    "window",
    2,
    _adjoint("max_pool2d_backward", 2),
    attrs=_GEOMETRY,
    saves="i",
    no_grad_inputs=(1,),
    shape=_pool_shape("max_pool2d"),
)
row(
    "max_pool2d_backward",
    "window",
    2,
    _adjoint("max_pool2d", 2),
    attrs=_GEOMETRY,
    saves="i",
    no_grad_inputs=(1,),
    shape=_unpool_shape("max_pool2d_backward"),
)

# Average pooling: count_include_pad (0/1) and divisor (divisor_override; 0: none).
_AVG = _GEOMETRY + ("count_include_pad", "divisor")
row(
    "avg_pool2d",
    "window",
    1,
    _adjoint("avg_pool2d_backward"),
    attrs=_AVG,
    shape=_pool_shape("avg_pool2d"),
)
row(
    "avg_pool2d_backward",
    "window",
    1,
    _adjoint("avg_pool2d"),
    attrs=_AVG,
    shape=_unpool_shape("avg_pool2d_backward"),
)

# Adaptive average pooling: window i of n over a length L is [floor(i L / n), ceil((i+1) L / n)).
_ADAPTIVE = ("image", "grid")
row(
    "adaptive_avg_pool2d",
    "window",
    1,
    _adjoint("adaptive_avg_pool2d_backward"),
    attrs=_ADAPTIVE,
    shape=_pool_shape("adaptive_avg_pool2d"),
)
row(
    "adaptive_avg_pool2d_backward",
    "window",
    1,
    _adjoint("adaptive_avg_pool2d"),
    attrs=_ADAPTIVE,
    shape=_unpool_shape("adaptive_avg_pool2d_backward"),
)


# ---------------------------------------------------------------- argument handling


def _tuple(op: str, name: str, v: Any, n: int) -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = tuple(v) * n
        if len(v) != n:
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
        out = tuple(int(e) for e in v)
    else:
        out = (int(v),) * n
    return out


def _positive(op: str, name: str, v: tuple) -> None:
    if any(e <= 0 for e in v):
        raise ValueError(f"{op}: {name} must be positive, got {v}")


def _as_batched(op: str, x, spatial: int):
    """(N, C, *spatial) or unbatched (C, *spatial) input -> (batched input, was unbatched)."""
    if x.ndim == spatial + 2:
        return x, False
    if x.ndim == spatial + 1:
        return F.unsqueeze(x, 0), True
    dims = "(N, C, L) or (C, L)" if spatial == 1 else "(N, C, H, W) or (C, H, W)"
    raise ValueError(f"{op}: expected a {dims} input, got shape {tuple(x.shape)}")


def _as_image(x):
    """(N, C, L) -> (N, C, 1, L): the 1-d ops run as images of height 1."""
    n, c, length = x.shape
    return F.reshape(x, (n, c, 1, length))


def _finish(y, unbatched: bool, one_d: bool):
    if one_d:
        n, c, _, length = y.shape
        y = F.reshape(y, (n, c, length))
    return F.squeeze(y, 0) if unbatched else y


# ---------------------------------------------------------------- convolution


def _conv_padding(op: str, padding, k: tuple, d: tuple, s: tuple, n: int) -> tuple:
    """((before per dim), (after per dim)) from an int, a tuple, "same" or "valid"."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * n, (0,) * n
        if padding == "same":
            if any(e != 1 for e in s):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
            total = [di * (ki - 1) for ki, di in zip(k, d)]
            before = tuple(t // 2 for t in total)
            return before, tuple(t - b for t, b in zip(total, before))
        raise ValueError(
            f"{op}: padding must be 'same', 'valid', an int or a tuple, got {padding!r}"
        )
    p = _tuple(op, "padding", padding, n)
    if any(e < 0 for e in p):
        raise ValueError(f"{op}: negative padding is not supported, got {p}")
    return p, p


def _conv_nd(op: str, input, weight, bias, stride, padding, dilation, groups: int, spatial: int):
    if weight.ndim != spatial + 2:
        raise ValueError(
            f"{op}: weight must be {spatial + 2}-D (out_channels, in_channels/groups, "
            f"{'kL' if spatial == 1 else 'kH, kW'}), got shape {tuple(weight.shape)}"
        )
    x, unbatched = _as_batched(op, input, spatial)
    w = weight
    if spatial == 1:
        x, w = _as_image(x), _as_image(w)
    s = _tuple(op, "stride", stride, spatial)
    d = _tuple(op, "dilation", dilation, spatial)
    _positive(op, "stride", s)
    _positive(op, "dilation", d)
    k = tuple(weight.shape[2:])
    before, after = _conv_padding(op, padding, k, d, s, spatial)
    if spatial == 1:
        s, d, k, before, after = (1,) + s, (1,) + d, (1,) + k, (0,) + before, (0,) + after
    shapes = (tuple(input.shape), tuple(weight.shape))
    y = _conv2d(op, x, w, bias, s, before, after, d, int(groups), shapes)
    return _finish(y, unbatched, spatial == 1)


def _conv2d(op, x, w, bias, s, before, after, d, groups, shapes):
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    in_shape, wshape = shapes
    if groups <= 0:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    if c % groups or cout % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide the input channels ({c}) and the output "
            f"channels ({cout}); input {in_shape}, weight {wshape}"
        )
    if cg * groups != c:
        raise ValueError(
            f"{op}: input {in_shape} has {c} channels but weight {wshape} expects "
            f"{cg * groups} (in_channels/groups = {cg}, groups = {groups})"
        )
    if bias is not None and tuple(bias.shape) != (cout,):
        raise ValueError(f"{op}: bias shape {tuple(bias.shape)}, expected ({cout},)")
    ph, pw = h + before[0] + after[0], wd + before[1] + after[1]
    eh, ew = d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1
    if eh > ph or ew > pw:
        raise ValueError(
            f"{op}: padded input size per channel ({ph} x {pw}) is smaller than the dilated "
            f"kernel ({eh} x {ew}); input {in_shape}, weight {wshape}"
        )
    grid = ((ph - eh) // s[0] + 1, (pw - ew) // s[1] + 1)
    geo = dict(image=(c, h, wd), grid=grid, kernel=(kh, kw), stride=s, padding=before, dilation=d)
    y = F.call("conv2d", x, w, out_channels=cout, groups=groups, **geo)
    if bias is not None:
        y = F.add(y, F.reshape(bias, (cout, 1, 1)))
    return y


@autocasting.policy
def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Size = 1,
    padding: Size | str = 0,
    dilation: Size = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of (N, C, H, W) or (C, H, W) input with
    weight (out_channels, in_channels/groups, kH, kW). padding: int, pair, "same" or "valid".

    >>> y = F.conv2d(vkgrad.ones(1, 3, 8, 8), vkgrad.ones(4, 3, 3, 3), padding=1)  # (1, 4, 8, 8)
    """
    return _conv_nd("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


@autocasting.policy
def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Size = 1,
    padding: Size | str = 0,
    dilation: Size = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution of (N, C, L) or (C, L) input with weight (out, in/groups, kL).

    >>> y = F.conv1d(vkgrad.ones(2, 3, 10), vkgrad.ones(4, 3, 3))   # shape (2, 4, 8)
    """
    return _conv_nd("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


@autocasting.policy
def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Size = 1,
    padding: Size = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
) -> Tensor:
    """Transposed 2-D convolution (the adjoint of conv2d), weight (in, out/groups, kH, kW).

    >>> y = F.conv_transpose2d(vkgrad.ones(1, 4, 5, 5), vkgrad.ones(4, 2, 3, 3), stride=2)  # 11x11
    """
    op = "conv_transpose2d"
    if weight.ndim != 4:
        raise ValueError(
            f"{op}: weight must be 4-D (in_channels, out_channels/groups, kH, kW), got shape "
            f"{tuple(weight.shape)}"
        )
    x, unbatched = _as_batched(op, input, 2)
    s = _tuple(op, "stride", stride, 2)
    d = _tuple(op, "dilation", dilation, 2)
    p = _tuple(op, "padding", padding, 2)
    op_ = _tuple(op, "output_padding", output_padding, 2)
    _positive(op, "stride", s)
    _positive(op, "dilation", d)
    if any(e < 0 for e in p + op_):
        raise ValueError(f"{op}: negative padding is not supported, got {p} and {op_}")
    if any(o >= si and o >= di for o, si, di in zip(op_, s, d)):
        raise ValueError(
            f"{op}: output_padding {op_} must be smaller than either stride {s} or dilation {d}"
        )
    n, cin, h, wd = x.shape
    wcin, cog, kh, kw = weight.shape
    groups = int(groups)
    if groups <= 0 or cin % groups:
        raise ValueError(
            f"{op}: groups={groups} must be positive and divide the input channels ({cin})"
        )
    if wcin != cin:
        raise ValueError(
            f"{op}: input {tuple(input.shape)} has {cin} channels but weight "
            f"{tuple(weight.shape)} expects {wcin}"
        )
    cout = cog * groups
    if bias is not None and tuple(bias.shape) != (cout,):
        raise ValueError(f"{op}: bias shape {tuple(bias.shape)}, expected ({cout},)")
    ho = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op_[0] + 1
    wo = (wd - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op_[1] + 1
    if ho <= 0 or wo <= 0:
        raise ValueError(
            f"{op}: output size ({ho} x {wo}) is too small for input {tuple(input.shape)}, "
            f"weight {tuple(weight.shape)}, stride {s}, padding {p}"
        )
    # The adjoint of conv2d from (N, C_out, Ho, Wo) to (N, C_in, H, W): its input gradient.
    geo = dict(image=(cout, ho, wo), grid=(h, wd), kernel=(kh, kw), stride=s, padding=p, dilation=d)
    y = F.call("conv2d_backward_input", x, weight, out_channels=cin, groups=groups, **geo)
    if bias is not None:
        y = F.add(y, F.reshape(bias, (cout, 1, 1)))
    return F.squeeze(y, 0) if unbatched else y


@autocasting.policy
def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Size = 1,
    padding: Size = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
) -> Tensor:
    """Transposed 1-D convolution of (N, C_in, L) or (C_in, L) input, weight
    (in, out/groups, kL): conv_transpose2d on images of height 1.

    >>> y = F.conv_transpose1d(vkgrad.ones(1, 4, 5), vkgrad.ones(4, 2, 3), stride=2)  # (1, 2, 11)
    """
    op = "conv_transpose1d"
    if weight.ndim != 3:
        raise ValueError(
            f"{op}: weight must be 3-D (in_channels, out_channels/groups, kL), got shape "
            f"{tuple(weight.shape)}"
        )
    x, unbatched = _as_batched(op, input, 1)
    (s,), (p,), (o,), (d,) = (
        _tuple(op, name, v, 1)
        for name, v in (
            ("stride", stride),
            ("padding", padding),
            ("output_padding", output_padding),
            ("dilation", dilation),
        )
    )
    # Checked here too so that the error names this function and the 1-d shapes.
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"{op}: input {tuple(input.shape)} has {x.shape[1]} channels but weight "
            f"{tuple(weight.shape)} expects {weight.shape[0]}"
        )
    length = (x.shape[2] - 1) * s - 2 * p + d * (weight.shape[2] - 1) + o + 1
    if length <= 0:
        raise ValueError(
            f"{op}: output length {length} is too small for input {tuple(input.shape)}, weight "
            f"{tuple(weight.shape)}, stride {s}, padding {p}"
        )
    y = conv_transpose2d(
        _as_image(x), _as_image(weight), bias, (1, s), (0, p), (0, o), groups, (1, d)
    )
    return _finish(y, unbatched, True)


# ---------------------------------------------------------------- pooling


def _pool_len(op, size, k, s, p, d, ceil_mode) -> int:
    eff = d * (k - 1) + 1
    out = (size + 2 * p - eff + ((s - 1) if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the image or its left padding
    return out


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode, spatial):
    k = _tuple(op, "kernel_size", kernel_size, spatial)
    # PyTorch: stride None (or empty) means the kernel size.
    s = _tuple(op, "stride", stride, spatial) if stride not in (None, (), []) else k
    p = _tuple(op, "padding", padding, spatial)
    d = _tuple(op, "dilation", dilation, spatial)
    _positive(op, "kernel_size", k)
    _positive(op, "stride", s)
    _positive(op, "dilation", d)
    if any(pi < 0 or 2 * pi > ki for pi, ki in zip(p, k)):
        raise ValueError(
            f"{op}: padding {p} must be non-negative and at most half of kernel_size {k}"
        )
    sizes = tuple(x.shape[2:])
    grid = tuple(_pool_len(op, *a, ceil_mode) for a in zip(sizes, k, s, p, d))
    if any(g < 1 for g in grid):
        raise ValueError(
            f"{op}: input {tuple(x.shape)} is too small for kernel_size {k}, stride {s}, "
            f"padding {p}, dilation {d} (output size {grid})"
        )
    if spatial == 1:
        k, s, p, d, grid = (1,) + k, (1,) + s, (0,) + p, (1,) + d, (1,) + grid
    n, c, h, w = x.shape if spatial == 2 else (x.shape[0], x.shape[1], 1, x.shape[2])
    return dict(image=(c, h, w), grid=grid, kernel=k, stride=s, padding=p, dilation=d)


def _max_pool(op, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, sp):
    x, unbatched = _as_batched(op, input, sp)
    geo = _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode, sp)
    if sp == 1:
        x = _as_image(x)
    idx = F.call("max_pool2d_index", x, **geo)
    y = F.call("max_pool2d", x, idx, **geo)
    y = _finish(y, unbatched, sp == 1)
    if return_indices:
        return y, _finish(idx, unbatched, sp == 1)
    return y


def max_pool2d(
    input: Tensor,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """2-D max pooling over (N, C, H, W) or (C, H, W); padding counts as -inf. The gradient goes
    to the first maximum of each window. Indices (return_indices) are int32 flat offsets into
    each H x W plane.

    >>> y = F.max_pool2d(vkgrad.randn(1, 3, 8, 8), 2)   # shape (1, 3, 4, 4)
    """
    return _max_pool(
        "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2
    )


def max_pool1d(
    input: Tensor,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """1-D max pooling over (N, C, L) or (C, L); indices are int32 offsets along L.

    >>> y = F.max_pool1d(vkgrad.randn(2, 3, 9), 3)   # shape (2, 3, 3)
    """
    return _max_pool(
        "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1
    )


def _avg_pool(op, input, kernel_size, stride, padding, ceil_mode, count_include_pad, div, sp):
    x, unbatched = _as_batched(op, input, sp)
    geo = _pool_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode, sp)
    if div is not None and int(div) == 0:
        raise ValueError(f"{op}: divisor_override must be non-zero")
    if sp == 1:
        x = _as_image(x)
    y = F.call(
        "avg_pool2d",
        x,
        count_include_pad=int(bool(count_include_pad)),
        divisor=float(div or 0),
        **geo,
    )
    return _finish(y, unbatched, sp == 1)


def avg_pool2d(
    input: Tensor,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling over (N, C, H, W) or (C, H, W).

    >>> y = F.avg_pool2d(vkgrad.ones(1, 3, 8, 8), 2)   # shape (1, 3, 4, 4)
    """
    return _avg_pool(
        "avg_pool2d",
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        2,
    )


def avg_pool1d(
    input: Tensor,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L).

    >>> y = F.avg_pool1d(vkgrad.ones(2, 3, 9), 3)   # shape (2, 3, 3)
    """
    return _avg_pool(
        "avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1
    )


def _adaptive(op, input, output_size, sp):
    x, unbatched = _as_batched(op, input, sp)
    sizes = tuple(x.shape[2:])
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != sp:
            raise ValueError(f"{op}: output_size must have {sp} elements, got {output_size!r}")
        out = tuple(sizes[i] if o is None else int(o) for i, o in enumerate(output_size))
    else:
        out = (int(output_size),) * sp
    if any(o <= 0 for o in out) or any(s <= 0 for s in sizes):
        raise ValueError(
            f"{op}: output_size {out} and input sizes {sizes} (input {tuple(x.shape)}) must be "
            "positive"
        )
    if sp == 1:
        x, out = _as_image(x), (1,) + out
    _, c, h, w = x.shape
    y = F.call("adaptive_avg_pool2d", x, image=(c, h, w), grid=out)
    return _finish(y, unbatched, sp == 1)


def adaptive_avg_pool2d(input: Tensor, output_size: Size) -> Tensor:
    """Adaptive average pooling to output_size (int, or pair; None keeps that input size).
    Window i of n over length L is [floor(i L / n), ceil((i + 1) L / n)), as PyTorch.

    >>> y = F.adaptive_avg_pool2d(vkgrad.ones(2, 3, 7, 7), 1)   # global pooling: (2, 3, 1, 1)
    """
    return _adaptive("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool1d(input: Tensor, output_size: Size) -> Tensor:
    """Adaptive average pooling over the last axis of (N, C, L) or (C, L).

    >>> y = F.adaptive_avg_pool1d(vkgrad.ones(2, 3, 10), 4)   # shape (2, 3, 4)
    """
    return _adaptive("adaptive_avg_pool1d", input, output_size, 1)


# ---------------------------------------------------------------- unfold / fold


def unfold(
    input: Tensor, kernel_size: Size, dilation: Size = 1, padding: Size = 0, stride: Size = 1
) -> Tensor:
    """im2col: the sliding windows of (N, C, H, W) or (C, H, W) as columns
    (N, C kH kW, L), L the number of window positions (PyTorch's order).

    >>> cols = F.unfold(vkgrad.ones(1, 2, 4, 4), 2)   # shape (1, 8, 9)
    """
    op = "unfold"
    x, unbatched = _as_batched(op, input, 2)
    k = _tuple(op, "kernel_size", kernel_size, 2)
    d = _tuple(op, "dilation", dilation, 2)
    p = _tuple(op, "padding", padding, 2)
    s = _tuple(op, "stride", stride, 2)
    for name, v in (("kernel_size", k), ("dilation", d), ("stride", s)):
        _positive(op, name, v)
    if any(e < 0 for e in p):
        raise ValueError(f"{op}: negative padding is not supported, got {p}")
    _, c, h, w = x.shape
    grid = _window_grid(op, (h, w), k, s, p, d, tuple(input.shape))
    geo = dict(image=(c, h, w), grid=grid, kernel=k, stride=s, padding=p, dilation=d)
    y = F.call("im2col", x, **geo)
    return F.squeeze(y, 0) if unbatched else y


def fold(
    input: Tensor,
    output_size: Size,
    kernel_size: Size,
    dilation: Size = 1,
    padding: Size = 0,
    stride: Size = 1,
) -> Tensor:
    """col2im, the adjoint of unfold: columns (N, C kH kW, L) or (C kH kW, L) summed into
    (N, C, H, W) images of output_size (overlapping windows add up).

    >>> img = F.fold(vkgrad.ones(1, 8, 9), (4, 4), 2)   # shape (1, 2, 4, 4)
    """
    op = "fold"
    if input.ndim not in (2, 3):
        raise ValueError(
            f"{op}: expected a (N, C*kH*kW, L) or (C*kH*kW, L) input, got shape "
            f"{tuple(input.shape)}"
        )
    unbatched = input.ndim == 2
    x = F.unsqueeze(input, 0) if unbatched else input
    size = _tuple(op, "output_size", output_size, 2)
    k = _tuple(op, "kernel_size", kernel_size, 2)
    d = _tuple(op, "dilation", dilation, 2)
    p = _tuple(op, "padding", padding, 2)
    s = _tuple(op, "stride", stride, 2)
    for name, v in (("output_size", size), ("kernel_size", k), ("dilation", d), ("stride", s)):
        _positive(op, name, v)
    if any(e < 0 for e in p):
        raise ValueError(f"{op}: negative padding is not supported, got {p}")
    n, ck, length = x.shape
    if ck % (k[0] * k[1]):
        raise ValueError(
            f"{op}: input {tuple(input.shape)}: dim 1 ({ck}) must be a multiple of the kernel "
            f"size {k[0]} x {k[1]}"
        )
    grid = _window_grid(op, size, k, s, p, d, tuple(input.shape))
    if grid[0] * grid[1] != length:
        raise ValueError(
            f"{op}: input {tuple(input.shape)} has {length} windows, but output_size {size} "
            f"with kernel {k}, stride {s}, padding {p}, dilation {d} has {grid[0] * grid[1]}"
        )
    c = ck // (k[0] * k[1])
    geo = dict(image=(c,) + size, grid=grid, kernel=k, stride=s, padding=p, dilation=d)
    y = F.call("col2im", x, **geo)
    return F.squeeze(y, 0) if unbatched else y


def _window_grid(op, size, k, s, p, d, shape) -> tuple:
    grid = tuple(
        (n + 2 * pi - di * (ki - 1) - 1) // si + 1 for n, ki, si, pi, di in zip(size, k, s, p, d)
    )
    if any(g < 1 for g in grid):
        raise ValueError(
            f"{op}: input {shape}: the kernel {k} (dilation {d}) does not fit the padded "
            f"size {tuple(n + 2 * pi for n, pi in zip(size, p))}"
        )
    return grid
