"""The blog post's network, rebuilt from minigrad's parts.

The post (``shared/seed/blog-post.txt``) trains a 3-hidden-unit sigmoid net with bias
nodes by full-batch gradient descent on 6 samples. Each of its steps maps onto a layer:

    np.hstack((ones, X))               -> mg.Bias()
    sigmoid(inputs @ hidden_weights)   -> mg.Dense(4, 3), mg.Sigmoid()
    np.hstack((ones, hidden))          -> mg.Bias()
    hidden @ output_weights            -> mg.Dense(4, 1), mg.Identity()

Learning rate. The post steps by ``alpha · mean_i[(pred_i − y_i) · a_i]`` with
``alpha = 0.1``: its output error is ``pred − y`` averaged over the N samples, i.e.
``(pred − y) / N``. `mg.MSELoss` is ``Σ(pred − y)² / N`` (one output per sample), whose
gradient is ``2 · (pred − y) / N`` -- twice the post's. So ``lr · 2 · (pred − y) / N``
equals ``0.1 · (pred − y) / N`` exactly when ``lr = 0.1 / 2 = 0.05``.

Run ``python examples/blog_net.py``; importing this file trains nothing.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg

# The post's integer features and targets, made float once here rather than by the first
# layer and the loss at every step (the values, and so every result, are the same; an int
# target costs `MSELoss` a check and a cast per step: 5-8 µs of a 55 µs step).
X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
Y = np.array([[0, 1, 0, 1, 1, 0]], dtype=np.float64).T

POST_ALPHA = 0.1
LEARNING_RATE = POST_ALPHA / 2  # MSELoss's gradient is twice the post's; see above
ITERATIONS = 10_000
HIDDEN = 3


def build_model(seed: int = 1) -> mg.Sequential:
    """The post's architecture and initial weights.

    The post calls ``np.random.seed(1)`` and then draws the hidden, then the output,
    weight matrix as ``2 * np.random.random(shape) - 1``. A private
    ``RandomState(1)`` gives the same stream; `init.uniform(-1, 1)` computes
    ``-1 + 2 * r``, the same number.
    """
    rng = np.random.RandomState(seed)
    uniform = mg.init.uniform(-1.0, 1.0)
    return mg.Sequential(
        mg.Bias(),
        mg.Dense(X.shape[1] + 1, HIDDEN, init=uniform, rng=rng),
        mg.Sigmoid(),
        mg.Bias(),
        mg.Dense(HIDDEN + 1, Y.shape[1], init=uniform, rng=rng),
        mg.Identity(),
    )


def train(model: mg.Sequential, iterations: int = ITERATIONS) -> mg.Array:
    """Full-batch gradient descent; returns the predictions of the last forward pass."""
    loss_fn = mg.MSELoss()
    optimizer = mg.SGD(model.parameters(), lr=LEARNING_RATE)
    pred = np.empty((0, Y.shape[1]))  # no iterations, no predictions
    for _ in range(iterations):
        pred = model(X)
        loss_fn(pred, Y)
        optimizer.zero_grad()
        model.backward_params(loss_fn.backward())  # no gradient for X needed
        optimizer.step()
    return pred


def main() -> mg.Array:
    """Train the post's net and print its final predictions, as the post does."""
    pred = train(build_model())
    print("Output After Training: \n{}".format(pred))  # noqa: UP032  # the post's own line
    return pred


if __name__ == "__main__":
    main()
