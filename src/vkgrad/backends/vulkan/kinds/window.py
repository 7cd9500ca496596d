"""The ``window`` kind: kernels over the sliding windows of (N, C, H, W) images (im2col,
col2im, pooling, convolutions and their backward rows; see ``vkgrad/library/conv.py`` for the
geometry).

One thread per output element (f16: per output word). The geometry travels in the push
constants; inputs listed in the row's ``no_grad_inputs`` are int32 (max-pool indices).

Shader directives (the work of one thread, for lavapipe's loop limit):
``loops taps <attr> [<i>]``  every tap of the window and, at each, the channels of a group
                             (attr ``<attr>``, or its item i, over the attr ``groups``);
``loops images-by-grid``     every (image, output row) and output column;
``splits <shader>``          the shader can sum a slice of its loop (push word ``slices``:
                             each output element's slices side by side, in f32): a loop longer
                             than SLICE_LOOPS is cut into slices, one thread each, and
                             ``<shader>`` (a reduce-kind shader) adds them up.
"""

from __future__ import annotations

from ....dtypes import float32
from .. import DT_CODE, WG, VkArray
from ..sources import directive
from . import F16, F32, I32, check_loop_limit, f32_bits, push_layout, runner, variants
from .reduce import reduce_rows

SLICE_LOOPS, MAX_SLICES = 4096, 4096
# n outputs; batch, c, h, w the image; ho, wo the grid; kh, kw the kernel; sh, sw strides;
# pt, pl padding (top, left); dh, dw dilation; include_pad, divisor (f32 bits, 0: none) for
# average pools; cout, groups for convolutions; slices (rows that split).
PUSH = push_layout(
    "window", "n", "batch", "c", "h", "w", "ho", "wo", "kh", "kw", "sh", "sw", "pt", "pl",
    "dh", "dw", "include_pad", "divisor", "cout", "groups", "slices",
)  # fmt: skip


def _geometry(out_size: int, batch: int, attrs: dict) -> dict:
    c, h, w = attrs["image"]
    ho, wo = attrs["grid"]
    kh, kw = attrs.get("kernel", (1, 1))
    sh, sw = attrs.get("stride", (1, 1))
    pt, pl = attrs.get("padding", (0, 0))
    dh, dw = attrs.get("dilation", (1, 1))
    return dict(
        n=out_size, batch=batch, c=c, h=h, w=w, ho=ho, wo=wo, kh=kh, kw=kw, sh=sh, sw=sw,
        pt=pt, pl=pl, dh=dh, dw=dw, include_pad=int(attrs.get("count_include_pad", 0)),
        divisor=f32_bits(float(attrs.get("divisor", 0.0))),
        cout=int(attrs.get("out_channels", 0)), groups=int(attrs.get("groups", 1)),
    )  # fmt: skip


def loops_per_item(shader: str, in_shapes: list, attrs: dict) -> int:
    """The loop iterations of one output element, from the shader's ``loops`` directive (0:
    none worth checking)."""
    args = directive(shader, "loops")
    if args is None:
        return 0
    if args[0] == "taps":
        v = attrs[args[1]]
        channels = v[int(args[2])] if len(args) > 2 else v
        kh, kw = attrs["kernel"]
        return kh * (1 + kw * (1 + max(1, channels // attrs["groups"])))
    if args[0] == "images-by-grid":
        ho, wo = attrs["grid"]
        return in_shapes[0][0] * ho * (1 + wo)
    raise ValueError(f"shaders/{shader}.comp: unknown loop cost {' '.join(args)}")


@runner("window")
def run(be, op, inputs, attrs, out) -> None:
    if out.size == 0:
        return
    defines = {"D0": DT_CODE[out.dtype.name]}
    bufs = [out.buf, be.dummy, be.dummy]
    for k, x in enumerate(inputs):
        if not isinstance(x, VkArray):
            raise TypeError(f"{op.name}: expected Vulkan arrays, got {x!r}")
        defines[f"D{k + 1}"] = DT_CODE[x.dtype.name]
        bufs[1 + k] = x.buf
    words = _geometry(out.size, inputs[0].shape[0], attrs)  # input 0 is always batched
    per_item = loops_per_item(op.name, [x.shape for x in inputs], attrs)
    final = out
    splits = directive(op.name, "splits")
    if splits and per_item > SLICE_LOOPS:
        # Slices of the loop, one thread each, into f32 partials that a reduce shader adds.
        slices = min(-(-per_item // SLICE_LOOPS), MAX_SLICES)
        out = be.new((final.size, slices), float32)
        words.update(n=out.size, slices=slices)
        defines["D0"] = DT_CODE["float32"]
        bufs[0] = out.buf
        per_item = -(-per_item // slices)
    items = (out.size + 1) // 2 if out.dtype.name == "float16" else out.size
    groups = be.groups(items)
    per_thread = -(-items // (groups * WG)) * (2 if out.dtype.name == "float16" else 1)
    check_loop_limit(
        be,
        op,
        per_thread * per_item,
        lambda: "inputs of shapes " + " and ".join(str(x.shape) for x in inputs),
        "inputs this large",
    )
    hold = [out.storage] + [x.storage for x in inputs]
    reads = [x.buf for x in inputs]
    be.dispatch(op.name, defines, bufs, (groups, 1, 1), PUSH.words(**words), reads, [out.buf], hold)
    if out is not final:
        reduce_rows(be, op, splits[0], out, final)


@variants("window")
def window_variants(op) -> list:
    splits = directive(op.name, "splits") is not None
    res = []
    for f in (F32, F16):
        d = {"D0": I32 if op.out_dtype == "int32" else f}
        for k in range(op.nin):
            d[f"D{k + 1}"] = I32 if k in op.no_grad_inputs else f
        res.append((op.name, dict(d)))
        if splits and f != F32:  # the slices' partials are f32
            res.append((op.name, {**d, "D0": F32}))
    return res
