"""A residual MLP built with `mg.Graph` beats the plain MLP of the same width and depth.

Both nets have the same layers -- a stem ``Bias, Dense, Sigmoid``, ``DEPTH`` hidden
blocks of ``Bias, Dense, Sigmoid`` and a linear head -- and the same parameter count;
the residual net only adds each block's input to its output::

    plain block:     h -> σ(Dense(Bias(h)))
    residual block:  h -> h + σ(Dense(Bias(h)))      (a 4-line Graph, see `residual_block`)

Through a deep stack of sigmoids (whose slope is at most 1/4) the plain net's early
gradients vanish, so full-batch SGD barely moves its first layers; the skip paths carry
the gradient straight down. Trained identically on a smooth regression task, the
plain net is still at the loss of predicting the mean (1.00) when the residual net is
near 0.36.

Run ``python examples/residual_mlp.py``; importing this file trains nothing.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg

FEATURES, WIDTH, DEPTH = 4, 16, 8
SAMPLES, STEPS, LEARNING_RATE = 256, 400, 0.02


def make_data(seed: int = 0) -> tuple[mg.Array, mg.Array]:
    """Inputs ``X ~ N(0, 1)`` and the smooth target ``sin(X a) + (X b)² / 4``, standardized
    so that a mean squared error of 1.0 is what predicting its mean scores."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((SAMPLES, FEATURES))
    a, b = rng.standard_normal((2, FEATURES, 1))
    y = np.sin(X @ a) + (X @ b) ** 2 / 4
    return X, (y - y.mean()) / y.std()


def residual_block(rng: np.random.Generator) -> mg.Graph:
    """``h + σ(Dense(Bias(h)))``: the block's input skips ahead to an `mg.Add`."""
    return mg.Graph({
        "fc": (mg.Sequential(mg.Bias(), mg.Dense(WIDTH + 1, WIDTH, rng=rng)), "input"),
        "act": (mg.Sigmoid(), "fc"),
        "out": (mg.Add(), ("input", "act")),
    })


def plain_block(rng: np.random.Generator) -> mg.Sequential:
    return mg.Sequential(mg.Bias(), mg.Dense(WIDTH + 1, WIDTH, rng=rng), mg.Sigmoid())


def build(residual: bool, seed: int = 1) -> mg.Sequential:
    """Stem, ``DEPTH`` blocks, head; one rng, drawn in the same order for both nets."""
    rng = np.random.default_rng(seed)
    block = residual_block if residual else plain_block
    return mg.Sequential(
        mg.Bias(), mg.Dense(FEATURES + 1, WIDTH, rng=rng), mg.Sigmoid(),
        *(block(rng) for _ in range(DEPTH)),
        mg.Bias(), mg.Dense(WIDTH + 1, 1, rng=rng),
    )


def train(model: mg.Sequential, X: mg.Array, y: mg.Array, steps: int = STEPS) -> float:
    """Full-batch SGD on the mean squared error; returns the final training loss."""
    loss_fn = mg.MSELoss()
    optimizer = mg.SGD(model.parameters(), lr=LEARNING_RATE)
    for _ in range(steps):
        loss_fn(model(X), y)
        optimizer.zero_grad()
        model.backward_params(loss_fn.backward())  # no gradient for X needed
        optimizer.step()
    return loss_fn(model(X), y)


def main() -> tuple[float, float]:
    """Train both nets on the same data; print and return (plain loss, residual loss)."""
    X, y = make_data()
    plain = train(build(residual=False), X, y)
    residual = train(build(residual=True), X, y)
    print(f"plain MLP         {plain:.4f}   ({DEPTH} hidden blocks of width {WIDTH})")
    print(f"residual MLP      {residual:.4f}   (same layers, plus skip connections)")
    return plain, residual


if __name__ == "__main__":
    main()
