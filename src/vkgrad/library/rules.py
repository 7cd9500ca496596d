"""Backward rules that many rows share, written with ops so that they differentiate again.

A rule is ``(ctx, grad_out) -> one gradient (or None) per input``; ``ctx.inputs``,
``ctx.out`` and ``ctx.attrs`` are what the row saved. User rows take these too
(docs/extending.md).

>>> row("relu", "map", 1, kernel_rule("relu_backward"), saves="i")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Callable

from .. import functional as F


def unary_rule(deriv: Callable) -> Callable:
    """A rule for f(x): ``g * deriv(ctx)``."""

    def rule(ctx, g):
        return (F.mul(g, deriv(ctx)),)

    return rule


def kernel_rule(kernel: str, use_out: bool = False) -> Callable:
    """A rule that calls a dedicated backward kernel ``kernel(x_or_y, g, **attrs)``, with the
    saved input, or the saved output when ``use_out``."""

    def rule(ctx, g):
        saved = ctx.out if use_out else ctx.inputs[0]
        return (F.call(kernel, saved, g, **ctx.attrs),)

    return rule


def second_derivative_rule(kernel: str) -> Callable:
    """Rule for ``<f>_backward(x, g) = g f'(x)``: d/dx = h g f''(x) with ``kernel`` computing
    f''(x), and d/dg = h f'(x)."""

    def rule(ctx, h):
        x, g = ctx.inputs
        return F.mul(F.mul(h, g), F.call(kernel, x, **ctx.attrs)), F.call(
            ctx.op.name, x, h, **ctx.attrs
        )

    return rule
