"""Extending autograd: the R torch chapter's two custom functions, checked and then used.

    python examples/custom_function.py [--steps 300] [--device cpu] [--plot loss.png]

``LinearFunction`` saves its inputs with ``ctx.save_for_backward`` and computes only the
gradients ``ctx.needs_input_grad`` asks for; ``MulConstant`` takes a non-tensor argument.
Both are checked against finite differences with ``gradcheck`` (float64, cpu) and against
the gradients autograd derives from built-in ops; then a linear regression is trained
through ``LinearFunction``. Exits non-zero if a check fails or the loss did not fall.
"""

from __future__ import annotations

import sys

import numpy as np
from example_utils import Progress, parser, save_loss_plot, setup

import vkgrad
from vkgrad.autograd import Function, gradcheck


class LinearFunction(Function):
    """``input @ weight.T + bias`` with a hand-written backward."""

    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output = output + bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        # Only what is needed: a frozen weight or an input without grad costs nothing.
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias


class MulConstant(Function):
    """``tensor * constant`` for a Python number ``constant`` (no gradient for it)."""

    @staticmethod
    def forward(ctx, tensor, constant):
        ctx.constant = constant
        return tensor * constant

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.constant, None


def check_functions() -> bool:
    """gradcheck both functions, and compare them with autograd through built-in ops."""
    rng = np.random.default_rng(0)

    def leaf(*shape):
        return vkgrad.tensor(rng.standard_normal(shape), dtype="f64", requires_grad=True)

    x, w, b = leaf(4, 3), leaf(2, 3), leaf(2)
    ok = True
    for name, fn, inputs in [
        ("LinearFunction", LinearFunction.apply, (x, w, b)),
        ("LinearFunction without bias", LinearFunction.apply, (x, w)),
        ("MulConstant", lambda t: MulConstant.apply(t, 2.5), (x,)),
    ]:
        passed = gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
        print(f"gradcheck {name}: {'ok' if passed else 'FAILED'}")
        ok = ok and passed

    custom = vkgrad.autograd.grad(LinearFunction.apply(x, w, b).sum(), (x, w, b))
    builtin = vkgrad.autograd.grad((x @ w.T + b).sum(), (x, w, b))
    same = all(np.allclose(c.numpy(), r.numpy(), rtol=1e-12) for c, r in zip(custom, builtin))
    print(f"LinearFunction gradients equal autograd's through built-in ops: {same}")

    # The R torch chapter's own check: d(2x)/dx at x = 1 is 2.
    one = vkgrad.tensor([1.0], dtype="f64", requires_grad=True)
    MulConstant.apply(one, 2).backward()
    print(f"MulConstant: x = 1, o = mul_constant(x, 2), x.grad = {one.grad.tolist()}")
    return ok and same and one.grad.tolist() == [2.0]


def train(steps: int, device, dtype, plot: str | None) -> list:
    """Fit y = x A^T + c (with noise) by gradient descent through LinearFunction."""
    kw = dict(device=device, dtype=dtype)
    rng = np.random.default_rng(1)
    a_true, c_true = rng.standard_normal((2, 5)), rng.standard_normal(2)
    x_np = rng.standard_normal((256, 5))
    y_np = x_np @ a_true.T + c_true + 0.05 * rng.standard_normal((256, 2))
    x, y = vkgrad.tensor(x_np, **kw), vkgrad.tensor(y_np, **kw)
    w = vkgrad.zeros(2, 5, requires_grad=True, **kw)
    b = vkgrad.zeros(2, requires_grad=True, **kw)
    losses, bar = [], Progress(steps)
    for t in range(1, steps + 1):
        loss = (LinearFunction.apply(x, w, b) - y).pow(2).mean()
        loss.backward()
        with vkgrad.no_grad():
            for p in (w, b):
                p.sub_(MulConstant.apply(p.grad, 0.1))
                p.grad.zero_()
        losses.append(loss.item())
        bar.update(t, losses[-1])
    save_loss_plot(losses, plot, "custom_function: regression through LinearFunction")
    return losses


def main(argv: list | None = None) -> int:
    args = parser(__doc__, steps=300).parse_args(argv)
    device, dtype = setup(args)
    ok = check_functions()
    losses = train(args.steps, device, dtype, args.plot)
    print(f"train loss: {losses[0]:.4f} -> {losses[-1]:.4f}")
    return 0 if ok and losses[-1] < losses[0] else 1


if __name__ == "__main__":
    sys.exit(main())
