"""XOR: the smallest problem a network without a hidden layer cannot solve.

Four points, two classes, not linearly separable. One hidden layer of four tanh units
(with bias nodes, as in the blog post) and a sigmoid output, trained with `mg.fit` by
full-batch gradient descent on the squared error.

Run ``python examples/xor.py``; importing this file trains nothing.
"""

from __future__ import annotations

import argparse

import numpy as np

import minigrad as mg

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)

HIDDEN = 4
LEARNING_RATE = 0.5


def build_model(seed: int = 0) -> mg.Sequential:
    """2 inputs -> 4 tanh units -> 1 sigmoid output, bias nodes in front of each Dense."""
    rng = np.random.default_rng(seed)
    return mg.Sequential(
        mg.Bias(),
        mg.Dense(3, HIDDEN, rng=rng),
        mg.Tanh(),
        mg.Bias(),
        mg.Dense(HIDDEN + 1, 1, rng=rng),
        mg.Sigmoid(),
    )


def main(epochs: int = 1000, seed: int = 0) -> float:
    """Train on XOR, print each point's prediction, and return the accuracy (0 to 1)."""
    model = build_model(seed)
    history = mg.fit(
        model, mg.MSELoss(), mg.SGD(model.parameters(), lr=LEARNING_RATE), X, Y,
        epochs=epochs, batch_size=len(X), shuffle=False, progress=False,
    )
    pred = mg.predict(model, X)
    for x, p, y in zip(X, pred[:, 0], Y[:, 0]):
        print(f"{x.astype(int)} -> {p:.3f} (target {y:.0f})")
    accuracy = mg.accuracy(pred, Y, threshold=0.5)  # pred holds probabilities (a Sigmoid)
    print(f"final loss {history.history['loss'][-1]:.5f}, accuracy {accuracy:.0%}")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    main(arguments.epochs, arguments.seed)
