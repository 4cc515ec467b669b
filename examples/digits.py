"""Handwritten digits: scikit-learn's bundled 8×8 images (no download), 10 classes.

1,797 images of 64 pixels valued 0..16, scaled to [0, 1]; a stratified 75/25 split with
``random_state=0`` (1,347 training images, 450 test images). A one-hidden-layer ReLU
MLP (64 -> 384 -> 10, bias nodes in front of each Dense) is trained with `mg.fit` on
softmax cross-entropy with Adam for 15 epochs of mini-batches of 32.

``--compare`` also trains scikit-learn's ``MLPClassifier`` (its defaults: 100 ReLU
units, Adam, mini-batches of 200, up to 200 epochs) on the same split and prints both
accuracies and training times.

Needs scikit-learn: ``pip install "minigrad[examples]"``. Run
``python examples/digits.py [--compare]``; importing this file trains nothing.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import minigrad as mg

HIDDEN = 384
EPOCHS = 15
BATCH_SIZE = 32
LEARNING_RATE = 2e-3


def load_split() -> tuple[mg.Array, mg.Array, mg.Array, mg.Array]:
    """``X_train, X_test, y_train, y_test``: pixels scaled to [0, 1], labels 0..9."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    return X_train, X_test, y_train, y_test


def build_model(seed: int = 0) -> mg.Sequential:
    """64 pixels -> 384 ReLU units (He init) -> 10 logits."""
    rng = np.random.default_rng(seed)
    return mg.Sequential(
        mg.Bias(), mg.Dense(65, HIDDEN, init=mg.init.he_normal(), rng=rng), mg.ReLU(),
        mg.Bias(), mg.Dense(HIDDEN + 1, 10, rng=rng),
    )


def train_minigrad(
    split: tuple[mg.Array, mg.Array, mg.Array, mg.Array], epochs: int, seed: int
) -> tuple[float, float]:
    """Test accuracy and training time in seconds of the minigrad MLP."""
    X_train, X_test, y_train, y_test = split
    model = build_model(seed)
    optimizer = mg.Adam(model.parameters(), lr=LEARNING_RATE)
    start = time.perf_counter()
    mg.fit(model, mg.CrossEntropyLoss(), optimizer, X_train, y_train, epochs=epochs,
           batch_size=BATCH_SIZE, rng=seed, progress=False)
    seconds = time.perf_counter() - start
    return mg.accuracy(mg.predict(model, X_test), y_test), seconds


def train_sklearn(
    split: tuple[mg.Array, mg.Array, mg.Array, mg.Array], seed: int
) -> tuple[float, float]:
    """Test accuracy and training time in seconds of ``MLPClassifier()`` with its defaults."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_train, X_test, y_train, y_test = split
    classifier = MLPClassifier(random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():  # it runs all of its default 200 epochs and says so
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return float(classifier.score(X_test, y_test)), seconds


def main(epochs: int = EPOCHS, seed: int = 0, compare: bool = False) -> float:
    """Train and evaluate; print accuracy and training time (and scikit-learn's, with
    ``compare``). Returns minigrad's test accuracy, from 0 to 1."""
    split = load_split()
    accuracy, seconds = train_minigrad(split, epochs, seed)
    print(f"minigrad MLP:               test accuracy {accuracy:.2%}, trained in {seconds:.3f} s")
    if compare:
        sk_accuracy, sk_seconds = train_sklearn(split, seed)
        print(
            f"scikit-learn MLPClassifier: test accuracy {sk_accuracy:.2%}, "
            f"trained in {sk_seconds:.3f} s"
        )
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true", help="also train MLPClassifier")
    arguments = parser.parse_args()
    main(arguments.epochs, arguments.seed, arguments.compare)
