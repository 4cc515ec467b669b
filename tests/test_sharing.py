"""Weight sharing holds for every correct layer, whatever style it is written in.

Six plainly written user layers -- state in an ordinary attribute, in ``self.cache``, in
an appended list, in sub-layers held as attributes, a merge layer with attribute state,
an integer-input embedding -- each used twice (the same instance) in a `Sequential`, in
a `Graph`, and inside a container that is itself shared, checked against central finite
differences in float64 at the model level. Then: inspecting a model between a forward
and its backward (summary, predict, repr, state_dict, save, check_layer) never changes
that backward.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.layer_contract import check_layer, gradcheck

# -- the user layers, written as a new user would ---------------------------------------


class Tanh(mg.Layer):
    """y = tanh(x); dL/dx = G (1 − y²). State: ``self.y``, an ordinary attribute."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad_out):
        return grad_out * (1 - self.y**2)


class Scale(mg.Layer):
    """y = x ⊙ w per feature; dL/dw = Σ_n G ⊙ x, dL/dx = G ⊙ w. State: ``self.cache``."""

    def __init__(self, width, rng=0):
        self.w = mg.Parameter(np.random.default_rng(rng).uniform(0.5, 1.5, width), "w")

    def forward(self, x):
        self.cache = x
        return x * self.w.data

    def backward(self, grad_out):
        x = self.saved()
        self.w.grad += (grad_out * x).sum(axis=0)
        return grad_out * self.w.data


class Shift(mg.Layer):
    """y = x² + b; dL/db = Σ_n G, dL/dx = 2 x G. State: appended to ``self.inputs``."""

    def __init__(self, width):
        self.b = mg.Parameter(np.linspace(-0.5, 0.5, width), "b")
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x)
        return x**2 + self.b.data

    def backward(self, grad_out):
        x = self.inputs[-1]
        self.b.grad += grad_out.sum(axis=0)
        return 2 * x * grad_out


class Block(mg.Layer):
    """y = x + tanh(x W) ⊙ s, PyTorch style: sub-layers held as attributes and called."""

    def __init__(self, width, rng=0):
        self.fc = mg.Dense(width, width, rng=rng)
        self.act = Tanh()
        self.scale = Scale(width, rng=rng)

    def forward(self, x):
        return x + self.scale(self.act(self.fc(x)))

    def backward(self, grad_out):
        return grad_out + self.fc.backward(self.act.backward(self.scale.backward(grad_out)))


class Gate(mg.MergeLayer):
    """y = a ⊙ σ(b); dL/da = G σ, dL/db = G a σ (1 − σ). State: attributes."""

    min_inputs = max_inputs = 2

    def forward(self, a, b):
        self.a, self.s = a, 1 / (1 + np.exp(-b))
        return a * self.s

    def backward(self, grad_out):
        return grad_out * self.s, grad_out * self.a * self.s * (1 - self.s)


class Embed(mg.Layer):
    """ids (N, T) -> the rows of W (V, D), side by side: (N, T·D).

    dL/dW[v] = Σ of G over the positions holding id v: one matmul with the ids' one-hot
    matrix. The ids get no gradient (zeros are returned in its place)."""

    def __init__(self, vocabulary, width, rng=0):
        weight = np.random.default_rng(rng).standard_normal((vocabulary, width))
        self.weight = mg.Parameter(weight, "weight")

    def forward(self, ids):
        if not np.issubdtype(np.asarray(ids).dtype, np.integer):
            raise TypeError(f"{self!r} expected integer ids, got {np.asarray(ids).dtype}")
        self.ids = np.asarray(ids)
        return self.weight.data[self.ids].reshape(len(self.ids), -1)

    def backward(self, grad_out):
        vocabulary, width = self.weight.shape
        one_hot = np.arange(vocabulary)[:, None] == self.ids.reshape(-1)  # (V, N·T)
        self.weight.grad += one_hot @ grad_out.reshape(-1, width)
        return np.zeros(self.ids.shape)


W = 3  # feature width of the float layers
RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, W))
IDS = np.array([[0, 2], [1, 0], [3, 3], [2, 1]])  # 4 samples of 2 ids from 4


def single_layers():
    return {"attribute": Tanh(), "cache": Scale(W, rng=1), "appended": Shift(W),
            "composite": Block(W, rng=2)}


# -- model-level finite differences -----------------------------------------------------


def assert_model_gradients(model, x):
    """All parameter gradients (and the input's, for float input) of Σ model(x) ⊙ R
    against central differences in float64, perturbing the parameters in place."""
    y = model(x)
    upstream = np.random.default_rng(1).standard_normal(y.shape)
    params = model.parameters()
    assert params, "the model has parameters to check"
    float_input = x.dtype.kind == "f"

    def fn(*arrays):
        model.zero_grad()
        value = float(np.sum(model(arrays[0] if float_input else x) * upstream))
        grad_x = model.backward(upstream)
        return value, [grad_x, *(p.grad for p in params)][0 if float_input else 1:]

    tensors = [p.data for p in params]
    gradcheck(fn, *([x.copy()] if float_input else []), *tensors, rtol=1e-6, atol=1e-8)


def twice_in_sequential(layer):
    return mg.Sequential(layer, mg.Dense(W, W, rng=5), layer)


def twice_in_graph(layer):  # also a fan-out: "a" feeds "mid" and "out"
    return mg.Graph({"a": (layer, "input"), "mid": (mg.Dense(W, W, rng=6), "a"),
                     "b": (layer, "mid"), "out": (mg.Add(), ("a", "b"))})


def shared_container(layer):  # a container using the layer twice, itself used twice
    inner = mg.Sequential(layer, mg.Dense(W, W, rng=7), layer)
    return mg.Graph({"a": (inner, "input"), "b": (inner, "a"),
                     "out": (mg.Add(), ("a", "b"))})


BUILDS = {"Sequential": twice_in_sequential, "Graph": twice_in_graph,
          "nested": shared_container}


@pytest.mark.parametrize("build", BUILDS.values(), ids=BUILDS.keys())
@pytest.mark.parametrize("kind", single_layers().keys())
def test_a_layer_used_twice_gets_the_summed_gradients(kind, build):
    layer = single_layers()[kind]
    model = build(layer if layer.parameters() else mg.Sequential(Scale(W), layer))
    assert_model_gradients(model, X)


def test_every_user_layer_passes_check_layer():
    for layer in single_layers().values():
        check_layer(layer, X)
    check_layer(Gate(), X, X[::-1].copy())
    check_layer(Embed(4, 2), IDS)


def gated(gate):
    """The gate at two nodes of one graph."""
    return mg.Graph({"p": (mg.Dense(W, W, rng=8), "input"), "g1": (gate, ("input", "p")),
                     "q": (mg.Dense(W, W, rng=9), "g1"), "g2": (gate, ("g1", "q"))})


@pytest.mark.parametrize("build", [
    gated,
    lambda gate: mg.Sequential(gated(gate), mg.Dense(W, W, rng=10), gated(gate)),
    lambda gate: (lambda g: mg.Sequential(g, g))(gated(gate)),
], ids=["Graph", "Sequential", "nested"])
def test_a_merge_layer_with_attribute_state_shared(build):
    assert_model_gradients(build(Gate()), X)


def embedded(embed):
    """The embedding at two nodes reading the same ids, joined."""
    return mg.Graph({"a": (embed, "input"), "b": (embed, "input"),
                     "ab": (mg.Concat(), ("a", "b")), "fc": (mg.Dense(8, W, rng=11), "ab")})


@pytest.mark.parametrize("build", [
    embedded,
    lambda embed: mg.Sequential(embedded(embed), Tanh(), mg.Dense(W, 2, rng=12)),
    lambda embed: mg.Graph({"e": (embedded(embed), "input"), "f": (embedded(embed), "input"),
                            "out": (mg.Add(), ("e", "f"))}),
], ids=["Graph", "Sequential", "nested"])
def test_an_integer_input_layer_shared(build):
    model = build(Embed(4, 2))
    assert_model_gradients(model, IDS)
    check_layer(model, IDS)  # the containers pass the ids through uncast


def test_buffers_persist_across_the_uses_of_a_shared_layer():
    class Counting(Scale):
        def __init__(self, width):
            super().__init__(width)
            self.calls = mg.Buffer(np.zeros((), dtype=np.int64), "calls")

        def forward(self, x):
            self.calls.data += 1
            return super().forward(x)

    layer = Counting(W)
    model = twice_in_sequential(layer)
    model.backward(model(X))
    assert layer.calls.data == 2  # the stash of the first use did not roll it back


# -- inspection between a forward and its backward is harmless --------------------------


def inspections(tmp_path):
    return {
        "summary": lambda model: mg.summary(model, (None, W)),
        "predict": lambda model: mg.predict(model, X[::-1] * 2, batch_size=3),
        "repr": repr,
        "state_dict": lambda model: model.state_dict(),
        "save": lambda model: mg.save(model, tmp_path / "model.npz"),
        "check_layer": lambda model: check_layer(model, X[::-1].copy()),
    }


@pytest.mark.parametrize("inspect", ["summary", "predict", "repr", "state_dict", "save",
                                     "check_layer"])
@pytest.mark.parametrize("shared", [False, True], ids=["unshared", "shared"])
def test_inspection_between_forward_and_backward_changes_nothing(inspect, shared, tmp_path,
                                                                 capsys):
    def build():
        tanh = Tanh()
        return mg.Sequential(Block(W, rng=3), tanh, mg.Dense(W, W, rng=4),
                             tanh if shared else Tanh())

    reference, model = build(), build()
    upstream = np.random.default_rng(2).standard_normal((len(X), W))
    reference(X)
    expected_input_grad = reference.backward(upstream)
    model(X)
    inspections(tmp_path)[inspect](model)
    np.testing.assert_array_equal(model.backward(upstream), expected_input_grad)
    for (name, got), (_, want) in zip(model.named_parameters(), reference.named_parameters()):
        np.testing.assert_array_equal(got.grad, want.grad, err_msg=name)
    assert model.training


def test_predict_before_any_forward_leaves_no_state_behind():
    model = mg.Sequential(Tanh(), mg.Dense(W, 1, rng=0))
    mg.predict(model, X)
    assert "y" not in vars(model[0]) and model[1].cache is None


def test_only_shared_positions_pay_for_stashing(monkeypatch):
    stashed = []
    original = mg.Module.stash

    def counting(self):
        stashed.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(mg.Module, "stash", counting)
    unshared = mg.Sequential(Block(W), Tanh(), mg.Dense(W, W, rng=0))
    unshared.backward(unshared(X))
    assert stashed == []  # the fast path: no stash at all
    tanh = Tanh()
    shared = mg.Sequential(tanh, mg.Dense(W, W, rng=0), mg.Sigmoid(), tanh)
    shared.backward(shared(X))
    # one per use of the shared layer after its forward, one after its backward (the
    # released state, so a second backward raises); nothing else
    assert stashed == ["Tanh", "Tanh", "Tanh", "Tanh"]
