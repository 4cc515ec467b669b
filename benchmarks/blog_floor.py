"""Where the blog net's step goes beyond the hand-written NumPy step (run by hand).

    python benchmarks/blog_floor.py [--rounds 41]

Prints, against `bench.py`'s hand-written NumPy step, interleaved in one process
(median and quartiles of the rounds' ratios, each round the best of three 500-step
blocks a side):

* a layered framework with nothing but layers: six layer objects with ``forward`` and
  ``backward``, a sequential loop, a loss and an optimizer object, and none of
  minigrad's guarantees -- what the layer structure itself costs;
* minigrad's step as shipped, then with its guarantees taken away one after another,
  by replacing them in this process only: the input and gradient checks that name a
  layer in an error, the release of each cache after its backward (`Sequential`'s
  release calls made to do nothing), `Module.__setattr__`'s structure tracking, and
  the overflow check of the stable sigmoid. Every variant's weights are compared with
  the hand-written step's first, so a fast wrong step cannot show.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "examples"), str(ROOT / "benchmarks")]

import bench  # noqa: E402
import blog_net  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.containers.sequential as sequential  # noqa: E402
import minigrad.layers.activations.from_output as activations  # noqa: E402
import minigrad.layers.dense as dense  # noqa: E402
import minigrad.losses.regression as regression  # noqa: E402

# -- the layers and nothing else ------------------------------------------------------------


class Weight:
    def __init__(self, data: np.ndarray) -> None:
        self.data, self.grad = data, np.zeros_like(data)


class Bias:
    weights: tuple[Weight, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], x.shape[1] + 1))
        out[:, 0] = 1.0
        out[:, 1:] = x
        return out

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g[:, 1:]


class Dense:
    def __init__(self, w: np.ndarray) -> None:
        self.weight = Weight(w)
        self.weights = (self.weight,)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.weight.data

    def backward_params(self, g: np.ndarray) -> None:
        self.weight.grad += self.x.T @ g

    def backward(self, g: np.ndarray) -> np.ndarray:
        self.backward_params(g)
        return g @ self.weight.data.T


class Sigmoid:
    weights: tuple[Weight, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y: np.ndarray = 1 / (1 + np.exp(-x))
        return self.y

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self.y * (1 - self.y)


class Identity:
    weights: tuple[Weight, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g


def layered_step(weights: list[np.ndarray], lr: float) -> tuple[Callable[[], None],
                                                                  list[np.ndarray]]:
    """The blog net as bare layer objects, trained as `minigrad_step` trains it (the
    first layer's input gradient is not computed, as `backward_params` does not)."""
    layers: list[Any] = [Bias(), Dense(weights[0].copy()), Sigmoid(), Bias(),
                         Dense(weights[1].copy()), Identity()]
    params = [w for layer in layers for w in layer.weights]
    X, Y = blog_net.X, blog_net.Y

    def step() -> None:
        h = X
        for layer in layers:
            h = layer.forward(h)
        diff = h - Y
        for p in params:
            p.grad.fill(0.0)
        g = diff * (2.0 / diff.size)
        for layer in layers[:1:-1]:
            g = layer.backward(g)
        layers[1].backward_params(g)
        for p in params:
            p.data -= lr * p.grad

    return step, [p.data for p in params]


# -- minigrad's guarantees, taken away one after another -------------------------------------


def replace(owner: object, name: str, value: object) -> None:
    """``owner.name = value`` for a name ``owner`` has: a name that went (renamed in
    minigrad) must stop this script, not add an attribute nothing reads."""
    if not hasattr(owner, name):
        raise SystemExit(f"blog_floor.py: {owner!r} has no {name!r} to replace")
    setattr(owner, name, value)


def without_checks() -> None:
    """Inputs, gradients and the loss's operands taken as they come."""
    for module in (dense, activations):
        replace(module, "as_batch", lambda layer, x, **_: x)
        replace(module, "as_grad", lambda layer, g, *_: g)
    replace(regression, "as_prediction_and_target", lambda loss, p, t: (p, t))
    replace(mg.Module, "saved", lambda self: self.cache)


def without_releases() -> None:
    """A model's release plan then calls a function that does nothing (the plan is made
    at its first backward, after this)."""
    replace(sequential, "release_modules", lambda modules: None)


def without_structure_tracking() -> None:
    replace(mg.Module, "__setattr__", object.__setattr__)


def without_overflow_check() -> None:
    replace(activations, "sigmoid", lambda x: 1 / (1 + np.exp(-x)))


def minigrad_step() -> tuple[Callable[[], None], list[np.ndarray]]:
    model = blog_net.build_model()
    loss_fn = mg.MSELoss()
    optimizer = mg.SGD(model.parameters(), lr=blog_net.LEARNING_RATE)
    X, Y = blog_net.X, blog_net.Y

    def step() -> None:
        loss_fn(model(X), Y)
        optimizer.zero_grad()
        model.backward_params(loss_fn.backward())
        optimizer.step()

    return step, [p.data for p in model.parameters()]


def ratio(contender: Callable[[], None], rounds: int) -> str:
    """Median (quartiles) of ``contender``'s time over the hand-written step's, after
    checking that both reach the same weights."""
    weights = [p.data.copy() for p in blog_net.build_model().parameters()]
    hand = bench.numpy_contender(weights, blog_net.X, blog_net.Y, blog_net.LEARNING_RATE)
    ratios = []
    for _ in range(rounds):
        ours = min(timeit.repeat(contender, number=500, repeat=3))
        theirs = min(timeit.repeat(hand.step, number=500, repeat=3))
        ratios.append(ours / theirs)
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    return f"{median:.2f}× ({q1:.2f}-{q3:.2f})"


def same_as_hand(step: Callable[[], None], params: list[np.ndarray]) -> Callable[[], None]:
    weights = [p.data.copy() for p in blog_net.build_model().parameters()]
    hand = bench.numpy_contender(weights, blog_net.X, blog_net.Y, blog_net.LEARNING_RATE)
    for _ in range(3):
        step()
        hand.step()
    for ours, theirs in zip(params, hand.weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()
    weights = [p.data.copy() for p in blog_net.build_model().parameters()]
    print(f"blog-net step / hand-written NumPy step, median (quartiles) of {args.rounds} "
          "interleaved rounds\n")
    print("| variant | ratio |\n|---|---|")
    layered = same_as_hand(*layered_step(weights, blog_net.LEARNING_RATE))
    print(f"| layer objects and nothing else | {ratio(layered, args.rounds)} |")
    variants: list[tuple[str, Callable[[], None] | None]] = [
        ("minigrad", None),
        ("without the checks", without_checks),
        ("... and without releasing the caches", without_releases),
        ("... and without structure tracking", without_structure_tracking),
        ("... and without the sigmoid's overflow check", without_overflow_check),
    ]
    for name, take_away in variants:
        if take_away is not None:
            take_away()
        step = same_as_hand(*minigrad_step())
        print(f"| {name} | {ratio(step, args.rounds)} |")


if __name__ == "__main__":
    main()
