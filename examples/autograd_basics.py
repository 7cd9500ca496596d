"""Using autograd: the R torch chapter of that name, in vkgrad.

    python examples/autograd_basics.py [--steps 200] [--device cpu] [--plot loss.png]

Part 1 looks at the graph autograd records: ``grad_fn``, ``next_functions`` down to the
leaves' ``AccumulateGrad`` nodes, and ``retain_grad`` on intermediate tensors. Part 2 trains
the chapter's two-layer network with gradients from ``loss.backward()`` and manual updates
under ``no_grad`` (``sub_`` and ``grad.zero_()``). Exits non-zero if the loss did not fall.
"""

from __future__ import annotations

import sys

from example_utils import Progress, parser, save_loss_plot, setup

import vkgrad


def print_graph(node, depth: int = 1) -> None:
    """Each node and, indented below it, its ``next_functions``."""
    print(f"{'  ' * depth}{node}")
    for nxt, _ in node.next_functions:
        if nxt is not None:
            print_graph(nxt, depth + 1)


def show_graph(device, dtype) -> None:
    x = vkgrad.ones(2, 2, requires_grad=True, device=device, dtype=dtype)
    y = x.mean()
    print("y = x.mean();  y.grad_fn:", y.grad_fn)
    y.backward()
    print("x.grad after y.backward():", x.grad.tolist())

    x1 = vkgrad.ones(2, 2, requires_grad=True, device=device, dtype=dtype)
    x2 = vkgrad.tensor(1.1, requires_grad=True, device=device, dtype=dtype)
    y = x1 * (x2 + 2)
    y.retain_grad()
    z = y.pow(2) * 3
    z.retain_grad()
    out = z.mean()
    # The whole backward graph, from the output down to the leaves' AccumulateGrad nodes.
    print("the graph of out = (3 * (x1 * (x2 + 2)) ** 2).mean():")
    print_graph(out.grad_fn)
    out.backward()
    print("z.grad:", z.grad.tolist())
    print("y.grad:", y.grad.tolist())
    print("x2.grad:", x2.grad.tolist())
    print("x1.grad:", x1.grad.tolist())


def train(steps: int, device, dtype, plot: str | None) -> list:
    d_in, d_out, n, d_hidden = 3, 1, 100, 32
    kw = dict(device=device, dtype=dtype)
    x = vkgrad.randn(n, d_in, **kw)
    y = x[:, 0] * 0.2 - x[:, 1] * 1.3 - x[:, 2] * 0.5 + vkgrad.randn(n, **kw)
    y = y.unsqueeze(1)
    w1 = vkgrad.randn(d_in, d_hidden, requires_grad=True, **kw)
    w2 = vkgrad.randn(d_hidden, d_out, requires_grad=True, **kw)
    b1 = vkgrad.zeros(1, d_hidden, requires_grad=True, **kw)
    b2 = vkgrad.zeros(1, d_out, requires_grad=True, **kw)
    learning_rate = 1e-4
    losses = []
    bar = Progress(steps)
    for t in range(1, steps + 1):
        y_pred = x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2)
        loss = (y_pred - y).pow(2).mean()
        loss.backward()
        # The update must not be recorded in the graph: it is not part of the model.
        with vkgrad.no_grad():
            for p in (w1, w2, b1, b2):
                p.sub_(learning_rate * p.grad)
                p.grad.zero_()
        losses.append(loss.item())
        bar.update(t, losses[-1])
    save_loss_plot(losses, plot, "autograd_basics: two-layer net, manual updates")
    return losses


def main(argv: list | None = None) -> int:
    args = parser(__doc__, steps=200).parse_args(argv)
    device, dtype = setup(args)
    show_graph(device, dtype)
    losses = train(args.steps, device, dtype, args.plot)
    print(f"train loss: {losses[0]:.4f} -> {losses[-1]:.4f}")
    return 0 if losses[-1] < losses[0] else 1


if __name__ == "__main__":
    sys.exit(main())
