"""Three interleaved spirals: a multi-class problem with curved decision boundaries.

The data are generated (the classic CS231n spirals): class ``c`` lies along the arm
``r · (sin θ, cos θ)`` with ``r`` from 0 to 1 and ``θ`` turning by 4 radians plus noise.
A two-hidden-layer ReLU MLP, trained with `mg.fit` on softmax cross-entropy with Adam,
separates them. With matplotlib installed (``pip install "minigrad[examples]"``) the
decision regions are saved as a PNG.

Run ``python examples/spirals.py``; importing this file trains nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import minigrad as mg

CLASSES = 3
HIDDEN = 64


def make_spirals(
    per_class: int = 200, classes: int = CLASSES, noise: float = 0.2, seed: int = 0
) -> tuple[mg.Array, mg.Array]:
    """``X (classes · per_class, 2)`` points on ``classes`` spiral arms, ``y`` their arm."""
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.0, 1.0, per_class), classes)
    y = np.repeat(np.arange(classes), per_class)
    theta = 4.0 * y + radius * 4.0 + rng.normal(0.0, noise, size=len(y))
    X = np.column_stack([radius * np.sin(theta), radius * np.cos(theta)])
    return X, y


def build_model(seed: int = 0) -> mg.Sequential:
    """2 -> 64 -> 64 -> 3 ReLU MLP with He-initialized weights; outputs are logits."""
    rng = np.random.default_rng(seed)
    he = mg.init.he_normal()
    return mg.Sequential(
        mg.Bias(), mg.Dense(3, HIDDEN, init=he, rng=rng), mg.ReLU(),
        mg.Bias(), mg.Dense(HIDDEN + 1, HIDDEN, init=he, rng=rng), mg.ReLU(),
        mg.Bias(), mg.Dense(HIDDEN + 1, CLASSES, rng=rng),
    )


def plot_decision_regions(model: mg.Sequential, X: mg.Array, y: mg.Array, path: str) -> bool:
    """Save the predicted class over the plane with the points on top; False without
    matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    grid = np.linspace(-1.2, 1.2, 300)
    xx, yy = np.meshgrid(grid, grid)
    regions = mg.predict(model, np.column_stack([xx.ravel(), yy.ravel()]), batch_size=4096)
    figure = Figure(figsize=(5, 5))
    axes: Any = figure.subplots()
    axes.contourf(xx, yy, regions.argmax(axis=1).reshape(xx.shape), alpha=0.3, cmap="brg")
    axes.scatter(X[:, 0], X[:, 1], c=y, s=8, cmap="brg")
    axes.set(xlim=(-1.2, 1.2), ylim=(-1.2, 1.2), title="minigrad: spiral decision regions")
    figure.savefig(path, dpi=100)
    return True


def main(
    epochs: int = 100, seed: int = 0, png: str | None = "spirals.png",
    history_png: str | None = None,
) -> float:
    """Train on 600 spiral points, report the accuracy on 600 fresh ones and return it.

    ``png`` is where the decision-region plot goes (None: no plot); ``history_png``
    where `History.plot` draws the loss and accuracy per epoch (training and test).
    """
    X, y = make_spirals(seed=seed)
    X_test, y_test = make_spirals(seed=seed + 1)
    model = build_model(seed)
    history = mg.fit(
        model, mg.CrossEntropyLoss(), mg.Adam(model.parameters(), lr=0.01), X, y,
        epochs=epochs, batch_size=32, rng=seed, metrics=[mg.accuracy], progress=False,
        validation_data=(X_test, y_test),
    )
    accuracy = mg.accuracy(mg.predict(model, X_test), y_test)
    print(
        f"after {epochs} epochs: loss {history.history['loss'][-1]:.4f}, "
        f"train accuracy {history.history['accuracy'][-1]:.1%}, test accuracy {accuracy:.1%}"
    )
    if png is not None:
        if plot_decision_regions(model, X, y, png):
            print(f"decision regions saved to {png}")
        else:
            print('matplotlib is not installed: no plot (pip install "minigrad[examples]")')
    if history_png is not None:
        history.plot(history_png)
        print(f"training curves saved to {history_png}")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", default="spirals.png", help="where to save the plot")
    parser.add_argument("--plot", default=None, help="where to save the training curves")
    arguments = parser.parse_args()
    main(arguments.epochs, arguments.seed, arguments.png, arguments.plot)
