"""The ``matmul`` kind: batched ``(B, M, K) @ (B, K, N)`` with optional transposes (attrs
``ta``, ``tb``) and batch broadcasting (a batch of 1 is reused): 64x64 output tiles, one
workgroup each. With K = 0 the output is zero-filled by the map shader the matmul shader
declares (``// vkgrad: zero <shader>``).

f16 products run on the matrix units where the device has them: the shader declares its
cooperative-matrix twin and that twin's scalar emulation (``// vkgrad: coopmat <shader>
<emulated>``), same bindings, push constants and grid. ``gemm_path`` picks one per device.
"""

from __future__ import annotations

import logging
import os
import weakref

from .. import DT_CODE
from ..sources import directive
from . import F16, F32, f32_bits, push_layout, runner, shaders, variants
from .map import map_call

_log = logging.getLogger("vkgrad")

TILE = 64
# sa, sb: batch strides of A and B in elements (0: a batch of 1, broadcast).
PUSH = push_layout("matmul", "batch", "M", "N", "K", "sa", "sb", "ta", "tb")

# The tile the cooperative-matrix shader is written for: 16x16x16, f16 A and B, f32 C and
# result, subgroup scope (VkComponentTypeKHR FLOAT16 = 0, FLOAT32 = 1; VkScopeKHR SUBGROUP = 3).
COOPMAT_SHAPE = {"m": 16, "n": 16, "k": 16, "a": 0, "b": 0, "c": 1, "result": 1, "scope": 3}
_F16_DEFINES = {"D0": F16, "D1": F16, "D2": F16}

# backend -> "coopmat" | "emulated" | "scalar", chosen once per backend.
_PATHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _coopmat_refusal(be, coopmat: str) -> str | None:
    """Why device ``be`` cannot run the cooperative-matrix GEMM, or None if it can."""
    if os.environ.get("VKGRAD_COOPMAT") == "0":
        return "VKGRAD_COOPMAT=0"
    if "cooperativeMatrix" not in be.features:
        return "this kp build enables no cooperative matrices"
    has, enabled = be.features["cooperativeMatrix"]
    if not has:
        return "the device has no VK_KHR_cooperative_matrix"
    if not (enabled and be.native_f16):
        return "cooperative matrices need 16-bit storage and shaderFloat16 enabled"
    shapes = be.device_info.get("cooperative_matrix_shapes", [])
    if COOPMAT_SHAPE not in shapes:
        return "the device lists no 16x16x16 f16 x f16 -> f32 subgroup shape"
    from ..compile import ShaderCompileError, compile_shader

    try:  # an old glslang cannot build it: say so once, and run the scalar GEMM
        compile_shader(coopmat, {**_F16_DEFINES, "NATIVE_F16": 1})
    except ShaderCompileError as e:
        return str(e).splitlines()[0]
    return None


def gemm_path(be, shader: str) -> str:
    """How device ``be`` runs an f16 x f16 product of ``shader``: "coopmat" (the matrix units),
    "emulated" (the cooperative-matrix tiling in scalar code: ``VKGRAD_COOPMAT=emulate``, for
    tests) or "scalar" (the tiled GEMM of every other dtype). Decided once per backend; a
    device that cannot run the matrix units gets a one-line notice naming what it lacks."""
    path = _PATHS.get(be)
    if path is None:
        if directive(shader, "coopmat") is None:
            return "scalar"
        if os.environ.get("VKGRAD_COOPMAT") == "emulate":
            path = "emulated"
        else:
            why = _coopmat_refusal(be, directive(shader, "coopmat")[0])
            if why is not None:
                _log.info(
                    "vkgrad: vulkan:%d: f16 matmul on the tiled scalar GEMM (%s)", be.index, why
                )
            path = "scalar" if why else "coopmat"
        _PATHS[be] = path
    return path


@runner("matmul")
def run(be, op, inputs, attrs, out) -> None:
    a, b = inputs
    ta, tb = int(bool(attrs.get("ta", 0))), int(bool(attrs.get("tb", 0)))
    batch, m, n = out.shape
    k = a.shape[1] if ta else a.shape[2]
    if out.size == 0:
        return
    if k == 0:
        (zero,) = directive(op.name, "zero")
        map_call(be, zero, [], out, out.shape, [f32_bits(0.0)], None)
        return
    sa = 0 if a.shape[0] == 1 else m * k
    sb = 0 if b.shape[0] == 1 else k * n
    groups = (
        min(-(-n // TILE), be.max_groups),
        min(-(-m // TILE), be.max_groups),
        min(batch, be.max_groups),
    )
    defines = {f"D{i}": DT_CODE[x.dtype.name] for i, x in enumerate((out, a, b))}
    shader = op.name
    if defines == _F16_DEFINES:
        path = gemm_path(be, op.name)
        if path != "scalar":
            coopmat, emulated = directive(op.name, "coopmat")
            shader = coopmat if path == "coopmat" else emulated
    push = PUSH.words(batch=batch, M=m, N=n, K=k, sa=sa, sb=sb, ta=ta, tb=tb)
    hold = [out.storage, a.storage, b.storage]
    bufs = [out.buf, a.buf, b.buf]
    be.dispatch(shader, defines, bufs, groups, push, [a.buf, b.buf], [out.buf], hold)


@shaders("matmul")
def matmul_shaders(op) -> tuple:
    return (op.name, *(directive(op.name, "coopmat") or ()))


@variants("matmul")
def matmul_variants(op) -> list:
    out = [(op.name, {"D0": f, "D1": f, "D2": f}) for f in (F32, F16)]
    twins = directive(op.name, "coopmat")
    if twins:
        coopmat, emulated = twins
        # The matrix units read float16_t: only the native-f16 variant exists. The emulation
        # runs on both f16 paths, as every other f16 kernel.
        out += [(coopmat, {**_F16_DEFINES, "NATIVE_F16": 1}), (emulated, dict(_F16_DEFINES))]
    return out
