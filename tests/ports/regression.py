"""Polynomial regression: fit y = w1 x + w2 x^2 + w3 x^3 + b from noisy samples with a linear
layer over polynomial features, nn.MSELoss and SGD with momentum:

    python tests/ports/regression.py --device cpu --steps 200
"""

import argparse

import vkgrad as torch
import vkgrad.nn as nn
import vkgrad.optim as optim

DEGREE = 3


def make_features(x):
    """Columns x, x^2, ..., x^DEGREE of a batch of scalars."""
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, DEGREE + 1)], 1)


def describe(weight, bias):
    terms = " ".join(f"{w:+.3f} x^{i + 1}" for i, w in enumerate(weight.view(-1).tolist()))
    return f"y = {terms} {bias.item():+.3f}"


def get_batch(w_target, b_target, batch_size, noise, device):
    x = torch.rand(batch_size, device=device) * 4 - 2
    features = make_features(x)
    y = features @ w_target + b_target + noise * torch.randn(batch_size, 1, device=device)
    return features, y


def main(argv=None):
    parser = argparse.ArgumentParser(description="Polynomial regression")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=50)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device(args.device)

    w_target = torch.tensor([[0.5], [-1.2], [0.3]], device=device)
    b_target = torch.tensor([0.8], device=device)

    model = nn.Linear(DEGREE, 1).to(device)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)

    losses = []
    for step in range(args.steps):
        features, y = get_batch(w_target, b_target, args.batch_size, args.noise, device)
        optimizer.zero_grad()
        loss = criterion(model(features), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if args.log_interval and step % args.log_interval == 0:
            print(f"step {step}: loss {loss.item():.6f}")

    print(f"Loss: {losses[-1]:.6f} after {args.steps} steps")
    print(f"==> Learned function:\t{describe(model.weight, model.bias)}")
    print(f"==> Actual function:\t{describe(w_target, b_target)}")
    return losses


if __name__ == "__main__":
    main()
