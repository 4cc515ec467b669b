"""A user's own typed code: it must pass ``mypy --strict`` beside minigrad itself.

Written the way the README and docs/extending.md teach, with full annotations; CI
type-checks it (``mypy --strict minigrad tests/typed_user``) and the test suite runs it
(tests/test_typed_user.py). Each part is something that once failed strict checking.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
from typing_extensions import override

import minigrad as mg


class Double(mg.Layer):
    """y = 2x; a bare `Layer` whose forward caches an array (dL/dx = 2 G)."""

    @override
    def forward(self, x: mg.Array) -> mg.Array:
        self.cache = x
        return 2 * x

    @override
    def backward(self, grad_out: mg.Array) -> mg.Array:
        self.saved()  # the cached input, an array
        return 2 * grad_out


class Scale(mg.Layer[tuple[mg.Array, float]]):
    """y = s·x with a learnable scalar s; a precisely typed cache (dL/ds = Σ G ⊙ x)."""

    def __init__(self) -> None:
        super().__init__()
        self.s = mg.Parameter(np.ones(1), name="s")

    @override
    def forward(self, x: mg.Array) -> mg.Array:
        s = float(self.s.data[0])
        self.cache = (x, s)
        return s * x

    @override
    def backward(self, grad_out: mg.Array) -> mg.Array:
        x, s = self.saved()  # typed: (Array, float)
        self.s.grad += np.sum(grad_out * x)
        return s * grad_out


class Gate(mg.MergeLayer[tuple[mg.Array, mg.Array]]):
    """y = a ⊙ σ(b), a merge layer with named inputs (as in docs/extending.md);
    dL/da = G ⊙ σ(b), dL/db = G ⊙ a ⊙ σ(b)(1 − σ(b))."""

    min_inputs = max_inputs = 2

    @override
    def forward(self, a: mg.Array, b: mg.Array) -> mg.Array:
        s = 1 / (1 + np.exp(-b))
        self.cache = (a, s)
        return a * s

    @override
    def backward(self, grad_out: mg.Array) -> tuple[mg.Array, mg.Array]:
        a, s = self.saved()
        return grad_out * s, grad_out * a * s * (1 - s)


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3))
    y = X[:, :1] - X[:, 1:2]
    model = mg.Sequential(mg.Bias(), mg.Dense(4, 4, rng=rng), Double(), Scale(),
                          mg.Tanh(), mg.Dense(4, 1, rng=rng))
    graph = mg.Graph({
        "value": (mg.Dense(3, 2, rng=1), "input"),
        "gate": (mg.Dense(3, 2, rng=2), "input"),
        "out": (Gate(), ("value", "gate")),
    })
    graph(X)

    loss_fn = mg.MSELoss()
    opt: mg.Optimizer = mg.Adam(model.parameters(), lr=0.01)
    opt.lr = opt.lr * 0.5  # every optimizer has a typed lr (all its groups')
    for _ in range(3):  # the training loop the README teaches
        loss = loss_fn(model(X), y)
        opt.zero_grad()
        model.backward_params(loss_fn.backward())
        opt.step()
    assert np.isfinite(loss)

    first: mg.Layer = model[0]  # indexing a container
    head = model[-1]
    assert isinstance(first, mg.Bias) and isinstance(head, mg.Dense)
    assert head.weight.shape == (4, 1)
    assert isinstance(model[1:3], mg.Sequential)
    assert isinstance(graph["out"], Gate)

    with tempfile.TemporaryDirectory() as folder:  # saving and loading models, optimizers
        path = os.path.join(folder, "model.npz")
        mg.save(model, path)
        mg.load(model, path)
        mg.save(opt, os.path.join(folder, "adam.npz"))
        mg.load(opt, os.path.join(folder, "adam.npz"))
        mg.save(graph, path)
        mg.load(graph, path)
        checkpoint = os.path.join(folder, "run.npz")  # model and optimizer in one file
        mg.save_checkpoint(checkpoint, model=model, optimizer=opt)
        mg.load_checkpoint(checkpoint, model=model, optimizer=opt)
        dense = mg.Dense(3, 2, rng=0)
        mg.save_checkpoint(checkpoint, model=dense)
        mg.load_checkpoint(checkpoint, model=dense)
    print("typed user program: ok", file=sys.stderr)


if __name__ == "__main__":
    main()
