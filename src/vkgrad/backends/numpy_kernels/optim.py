"""NumPy kernels of the optimizer updates (``vkgrad/optim``): in place, no result.

Each update works on the f32 (or f64) master copy of a parameter and writes the parameter
back from it when they differ (f16 parameters), as the shaders do.
"""

from __future__ import annotations

import numpy as np

from ..numpy_backend import kernel


def _direction(g, master, maximize, weight_decay):
    """The gradient in the master's dtype, negated to maximize, plus L2 weight decay."""
    g = g.astype(master.dtype, copy=False)
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * master
    return g


def _write_back(p, master) -> None:
    if p is not master:  # an f16 parameter: its f32 master holds the update
        p[...] = master


@kernel
def adam_step(
    p,
    g,
    m,
    v,
    vmax,
    master,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    bias1,
    bias2,
    decoupled,
    amsgrad,
    maximize,
    **_,
):
    g = _direction(g, master, maximize, 0 if decoupled else weight_decay)
    # One scratch array, reused for every intermediate: the update is memory-bound.
    tmp = np.multiply(g, 1 - beta1)
    m *= beta1
    m += tmp
    np.multiply(g, g, out=tmp)
    tmp *= 1 - beta2
    v *= beta2
    v += tmp
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    if weight_decay and decoupled:
        master *= 1 - lr * weight_decay
    np.divide(v, bias2, out=tmp)  # lr (m / bias1) / (sqrt(v / bias2) + eps)
    np.sqrt(tmp, out=tmp)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr / bias1
    master -= tmp
    _write_back(p, master)


@kernel
def sgd_step(
    p, g, buf, master, lr, momentum, dampening, weight_decay, nesterov, first_step, maximize, **_
):
    d = _direction(g, master, maximize, weight_decay)
    if momentum:
        if first_step:
            buf[...] = d
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    master -= lr * d
    _write_back(p, master)


@kernel
def rmsprop_step(
    p, g, sq, gavg, buf, master, lr, alpha, eps, weight_decay, momentum, centered, maximize, **_
):
    g = _direction(g, master, maximize, weight_decay)
    sq *= alpha
    sq += (1 - alpha) * g * g
    if centered:
        gavg *= alpha
        gavg += (1 - alpha) * g
        avg = np.sqrt(sq - gavg * gavg) + eps
    else:
        avg = np.sqrt(sq) + eps
    if momentum:
        buf *= momentum
        buf += g / avg
        master -= lr * buf
    else:
        master -= lr * g / avg
    _write_back(p, master)


@kernel
def adagrad_step(p, g, acc, master, clr, weight_decay, eps, maximize, **_):
    g = _direction(g, master, maximize, weight_decay)
    acc += g * g
    master -= clr * g / (np.sqrt(acc) + eps)
    _write_back(p, master)


@kernel
def adadelta_step(p, g, sq, acc, master, lr, rho, eps, weight_decay, maximize, **_):
    g = _direction(g, master, maximize, weight_decay)
    sq *= rho
    sq += (1 - rho) * g * g
    delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
    acc *= rho
    acc += (1 - rho) * delta * delta
    master -= lr * delta
    _write_back(p, master)


@kernel
def adamax_step(p, g, m, u, master, clr, beta1, beta2, eps, weight_decay, maximize, **_):
    g = _direction(g, master, maximize, weight_decay)
    m *= beta1
    m += (1 - beta1) * g
    # The infinity norm: eps joins |g| before the max, as PyTorch adds it.
    np.maximum(u * beta2, np.abs(g) + eps, out=u)
    master -= clr * m / u
    _write_back(p, master)


@kernel
def nadam_step(
    p,
    g,
    m,
    v,
    master,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled,
    bias2,
    gcoef,
    mcoef,
    maximize,
    **_,
):
    g = _direction(g, master, maximize, 0 if decoupled else weight_decay)
    if weight_decay and decoupled:
        master *= 1 - lr * weight_decay
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    denom = np.sqrt(v / bias2) + eps
    # Two steps, in PyTorch's order: the gradient's share, then the momentum's.
    master -= gcoef * g / denom
    master -= mcoef * m / denom
    _write_back(p, master)


@kernel
def radam_step(
    p,
    g,
    m,
    v,
    master,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled,
    bias1,
    rectified,
    rect,
    maximize,
    **_,
):
    g = _direction(g, master, maximize, 0 if decoupled else weight_decay)
    if weight_decay and decoupled:
        master *= 1 - lr * weight_decay
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    if rectified:  # rect = r_t sqrt(1 - beta2^t): the variance is trusted
        master -= lr * (m / bias1) * (rect / (np.sqrt(v) + eps))
    else:  # too few steps for a variance estimate: plain momentum SGD
        master -= lr * (m / bias1)
    _write_back(p, master)


@kernel
def asgd_step(p, g, ax, master, eta, lambd, mu, weight_decay, maximize, **_):
    g = _direction(g, master, maximize, weight_decay)
    master *= 1 - lambd * eta
    master -= eta * g
    if mu == 1:  # averaging has not started: the average is the iterate itself
        ax[...] = master
    else:
        ax += (master - ax) * mu
    _write_back(p, master)
