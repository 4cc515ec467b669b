"""Graph: gradients on residual, concat and shared-weight graphs; nesting; every error."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.containers import graph as graph_module
from minigrad.testing.layer_contract import check_layer, gradcheck


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def residual(width=3, seed=0):
    return mg.Graph({
        "fc": (mg.Dense(width, width, rng=seed), "input"),
        "act": (mg.Sigmoid(), "fc"),
        "out": (mg.Add(), ("input", "act")),
    })


def test_residual_block_closed_form_and_finite_differences():
    rng = np.random.default_rng(0)
    block = residual()
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    w = block["fc"].weight.data
    h = sigmoid(x @ w)
    np.testing.assert_allclose(block(x), x + h, rtol=1e-14)
    grad_x = block.backward(g)
    # y = x + σ(xW):  dL/dx = G + (G ⊙ σ') W.T ,  dL/dW = x.T (G ⊙ σ')
    local = g * h * (1 - h)
    np.testing.assert_allclose(grad_x, g + local @ w.T, rtol=1e-12)
    np.testing.assert_allclose(block["fc"].weight.grad, x.T @ local, rtol=1e-12)
    check_layer(block, 2 * x)


def test_residual_block_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    block = residual(4, seed=1)
    x, g = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(block["fc"].weight.data, requires_grad=True)
    out = tx + torch.sigmoid(tx @ tw)
    (out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(block(x), out.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(block.backward(g), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(block["fc"].weight.grad, tw.grad.numpy(), rtol=1e-12)


def test_two_branch_concat_net():
    rng = np.random.default_rng(2)
    net = mg.Graph({
        "left": (mg.Dense(3, 2, rng=rng), "input"),
        "right": (mg.Sequential(mg.Dense(3, 4, rng=rng), mg.Sigmoid()), "input"),
        "join": (mg.Concat(), ("left", "right", "input")),
        "head": (mg.Dense(9, 1, rng=rng), "join"),
    })
    x = rng.standard_normal((5, 3))
    check_layer(net, x)
    # Against a direct finite-difference check on the graph's own parameters.
    loss = mg.MSELoss()
    target = rng.standard_normal((5, 1))
    params = net.parameters()

    def value_and_grads(x_arg, *_):
        net.zero_grad()
        value = loss(net(x_arg), target)
        return value, [net.backward(loss.backward()), *(p.grad for p in params)]

    gradcheck(value_and_grads, x, *(p.data for p in params))


def test_shared_weight_graph_sums_the_gradients_of_both_uses():
    rng = np.random.default_rng(3)
    shared = mg.Dense(3, 3, rng=rng)
    net = mg.Graph({
        "a": (shared, "input"),
        "s": (mg.Sigmoid(), "a"),
        "b": (shared, "s"),
        "out": (mg.Add(), ("a", "b")),
    })
    assert net.parameters() == [shared.weight]
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    w = shared.weight.data
    # y = xW + σ(xW)W ;  dL/dW = x.T (G + σ' ⊙ (G W.T)) + σ(xW).T G
    h = sigmoid(x @ w)
    np.testing.assert_allclose(net(x), x @ w + h @ w, rtol=1e-13)
    grad_x = net.backward(g)
    expected_w = x.T @ (g + h * (1 - h) * (g @ w.T)) + h.T @ g
    np.testing.assert_allclose(shared.weight.grad, expected_w, rtol=1e-12)
    np.testing.assert_allclose(grad_x, (g + h * (1 - h) * (g @ w.T)) @ w.T, rtol=1e-12)
    check_layer(net, x)


def test_fan_out_sums_gradients_without_touching_the_callers_array():
    net = mg.Graph({
        "a": (mg.Identity(), "input"),
        "b": (mg.Identity(), "input"),
        "out": (mg.Add(), ("a", "b", "input", "a")),
    })
    x = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(net(x), 4 * x)
    g = np.ones((3, 2))
    with mg.retain_graph():  # two backward passes through one forward
        grad_x = net.backward(g)
        np.testing.assert_array_equal(grad_x, np.full((3, 2), 4.0))
        np.testing.assert_array_equal(g, np.ones((3, 2)))  # Add hands g to all four uses
        np.testing.assert_array_equal(net.backward(g), grad_x)
    check_layer(net, x)


def test_graph_in_sequential_in_graph():
    rng = np.random.default_rng(4)
    inner = residual(3, seed=5)
    outer = mg.Graph({
        "stack": (mg.Sequential(inner, mg.Dense(3, 3, rng=rng), inner), "input"),
        "skip": (mg.Dense(3, 3, rng=rng), "input"),
        "out": (mg.Concat(), ("stack", "skip")),
    })
    assert list(outer.state_dict()) == ["stack.0.fc.weight", "stack.1.weight", "skip.weight"]
    assert len(outer.parameters()) == 3
    check_layer(outer, rng.standard_normal((4, 3)))
    check_layer(mg.Sequential(outer, mg.Dense(6, 3, rng=rng), outer[("stack")][0]),
                rng.standard_normal((4, 3)))


def test_shared_graph_used_twice_in_a_sequential():
    rng = np.random.default_rng(6)
    block = residual(2, seed=7)
    model = mg.Sequential(block, mg.Sigmoid(), block)
    x, g = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    check_layer(model, x)
    # Against an unshared copy: same output, and the weight gradient is the sum of both.
    first, second = residual(2, seed=7), residual(2, seed=7)
    unshared = mg.Sequential(first, mg.Sigmoid(), second)
    np.testing.assert_allclose(model(x), unshared(x), rtol=1e-15)
    np.testing.assert_allclose(model.backward(g), unshared.backward(g), rtol=1e-15)
    np.testing.assert_allclose(block["fc"].weight.grad,
                               first["fc"].weight.grad + second["fc"].weight.grad, rtol=1e-15)


@pytest.mark.parametrize("container", [mg.Sequential, lambda *layers: mg.Graph(
    {str(i): (layer, "input" if i == 0 else str(i - 1)) for i, layer in enumerate(layers)}
)], ids=["Sequential", "Graph"])
def test_a_stash_survives_later_forwards_of_the_restored_container(container):
    # Regression: unstash() used to adopt the stashed slot list itself, so the next
    # forward overwrote the stash through it and a second restore gave the wrong forward.
    rng = np.random.default_rng(11)
    block = residual(2, seed=12)
    model = mg.Sequential(container(block, mg.Dense(2, 2, rng=rng), block))
    x, g = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    model(x)
    stashed = model.stash()
    expected = model.backward(g).copy()
    for _ in range(2):
        model(x + 1)
        model.unstash(stashed)
        np.testing.assert_array_equal(model.backward(g), expected)


def test_nested_state_dict_roundtrip_and_dotted_names():
    rng = np.random.default_rng(8)
    net = mg.Graph({"res": (residual(2), "input"), "head": (mg.Dense(2, 1, rng=rng), "res")})
    state = net.state_dict()
    assert list(state) == ["res.fc.weight", "head.weight"]
    other = mg.Graph({"res": (residual(2, seed=9), "input"),
                      "head": (mg.Dense(2, 1, rng=10), "res")})
    other.load_state_dict(state)
    x = rng.standard_normal((3, 2))
    np.testing.assert_array_equal(other(x), net(x))


def test_repr_walks_the_tree_with_the_wiring():
    net = mg.Graph({"res": (residual(2), "input"), "head": (mg.Dense(2, 1, rng=0), "res")})
    assert repr(net) == (
        "Graph(\n"
        "  (res): Graph(\n"
        "    (fc): Dense(2→2)(input)\n"
        "    (act): Sigmoid()(fc)\n"
        "    (out): Add()(input, act)\n"
        "  )(input)\n"
        "  (head): Dense(2→1)(res)\n"
        ")"
    )


def test_indexing_modes_and_len():
    net = residual()
    assert isinstance(net["fc"], mg.Dense) and len(net) == 3
    with pytest.raises(KeyError, match=re.escape("Graph has no node 'fcc' (nodes: 'fc', 'act'")):
        net["fcc"]
    net.eval()
    assert not any(m.training for m in net.modules())


def test_nodes_run_in_topological_order_computed_once(monkeypatch):
    net = mg.Graph({
        "out": (mg.Add(), ("a", "b")),
        "b": (mg.Sigmoid(), "a"),
        "a": (mg.Dense(2, 2, rng=0), "input"),
    }, output="out")
    assert list(net.nodes) == ["a", "b", "out"]

    def no_more_sorting(*_):
        raise AssertionError("the graph was analysed again")

    monkeypatch.setattr(graph_module, "topological_order", no_more_sorting)
    monkeypatch.setattr(graph_module, "_check_all_reach", no_more_sorting)
    x = np.ones((2, 2))
    y = net(x)
    net.backward(np.ones_like(y))
    check_layer(net, x)


def test_declared_order_is_kept_when_valid():
    assert graph_module.topological_order(
        {"c": ["input"], "a": ["c"], "b": ["input"], "d": ["a", "b"]}
    ) == ["c", "a", "b", "d"]


def test_forward_and_backward_errors_name_the_node():
    net = mg.Graph({"pre": (mg.Identity(), "input"), "fc": (mg.Dense(4, 3, rng=0), "pre")})
    with pytest.raises(ValueError, match=re.escape(
        "at Graph['fc']: Dense(4→3) expected input of shape (batch, ..., 4), got (6, 5)"
    )):
        net(np.zeros((6, 5)))
    with pytest.raises(RuntimeError, match=re.escape(
        "at Graph['fc']: Dense(4→3): backward() called before forward()"
    )):
        mg.Graph({"fc": (mg.Dense(4, 3, rng=0), "input")}).backward(np.zeros((2, 3)))
    nested = mg.Graph({"seq": (mg.Sequential(mg.Identity(), net), "input")})
    with pytest.raises(ValueError, match=re.escape("at Graph['seq'][1]['fc']: Dense(4→3)")):
        nested(np.zeros((6, 5)))


def test_clear_cache_forgets_the_forward_of_every_use():
    shared = mg.Dense(2, 2, rng=0)
    net = mg.Graph({"a": (shared, "input"), "b": (shared, "a")})
    net(np.ones((1, 2)))
    net.clear_cache()
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward\\(\\)"):
        net.backward(np.ones((1, 2)))


def test_merge_layer_returning_the_wrong_number_of_gradients_is_named():
    class Short(mg.Add):
        def backward(self, grad_out):
            return super().backward(grad_out)[:1]

    net = mg.Graph({"a": (mg.Identity(), "input"), "out": (Short(), ("a", "input"))})
    net(np.ones((1, 2)))
    with pytest.raises(ValueError, match=re.escape(
        "at Graph['out']: Short().backward returned 1 gradients for 2 inputs"
    )):
        net.backward(np.ones((1, 2)))


# -- construction errors -----------------------------------------------------------------

D = mg.Dense(2, 2, rng=0)


@pytest.mark.parametrize(("nodes", "output", "error", "message"), [
    ({"a": (D, "b"), "b": (mg.Sigmoid(), "a")}, None, ValueError, "Graph: cycle a -> b -> a"),
    ({"a": (mg.Add(), ("input", "c")), "b": (D, "a"), "c": (mg.Sigmoid(), "b")}, None,
     ValueError, "Graph: cycle a -> b -> c -> a"),
    ({"a": (mg.Add(), ("input", "a"))}, None, ValueError, "Graph: cycle a -> a"),
    ({"a": (D, "input"), "b": (mg.Sigmoid(), "aa")}, None, ValueError,
     "Graph: node 'b' reads 'aa', which is not a node (nodes: 'a', 'b'; the graph's input is "
     "'input')"),
    ([("a", (D, "input")), ("a", (mg.Sigmoid(), "a"))], None, ValueError,
     "Graph: duplicate node name 'a'"),
    ({"input": (D, "input")}, None, ValueError,
     "Graph: node name 'input' is reserved for the graph's input"),
    ({"a.b": (D, "input")}, None, ValueError, "Graph: node name 'a.b' must be non-empty"),
    ({"": (D, "input")}, None, ValueError, "Graph: node name '' must be non-empty"),
    ({1: (D, "input")}, None, TypeError, "Graph: node names must be strings, got 1"),
    ({"a": (D, "input"), "b": (mg.Sigmoid(), "a")}, "c", ValueError,
     "Graph: output 'c' is not a node (nodes: 'a', 'b')"),
    ({"a": (D, "input")}, "input", ValueError,
     "Graph: output 'input' is not a node (nodes: 'a'); a graph's output must pass through"),
    ({"a": (D, "input"), "aux": (mg.Sigmoid(), "a"), "b": (mg.Sigmoid(), "a")}, None,
     ValueError, "Graph: dangling node 'aux': on no path from the input to the output 'b', "
     "so never trained; remove or use it"),
    ({"a": (D, "input"), "x": (mg.Sigmoid(), "a"), "y": (mg.Sigmoid(), "x"),
      "b": (mg.Sigmoid(), "a")}, "b", ValueError, "Graph: dangling nodes 'x', 'y'"),
    ({"a": (mg.Add(), "input")}, None, ValueError,
     "Graph: node 'a': Add() takes at least 2 inputs, got 1"),
    ({"a": (mg.Concat(), ("input",))}, None, ValueError,
     "Graph: node 'a': Concat(axis=-1) takes at least 2 inputs, got 1"),
    ({"a": (D, ("input", "input"))}, None, ValueError,
     "Graph: node 'a': Dense(2→2) takes exactly 1 input, got 2 ('input', 'input'); join "
     "them with a merge layer such as Add() or Concat()"),
    ({"a": (D, ())}, None, ValueError, "Graph: node 'a': Dense(2→2) takes exactly 1 input, got 0"),
    ({"a": (mg.Sigmoid, "input")}, None, TypeError,
     "Graph: node 'a' needs a Layer or MergeLayer, got the class Sigmoid; did you mean "
     "Sigmoid()?"),
    ({"a": (mg.MSELoss(), "input")}, None, TypeError,
     "Graph: node 'a' needs a Layer or MergeLayer, got MSELoss"),
    ({"a": D}, None, TypeError, "Graph: node 'a' must be (layer, input name or names)"),
    ({"a": (D, "input", "x")}, None, TypeError, "Graph: node 'a' must be (layer, input name"),
    ({"a": (D, 0)}, None, TypeError, "Graph: node 'a' must name its inputs as strings, got 0"),
    ({"a": (D, ["input", 0])}, None, TypeError, "Graph: node 'a' must name its inputs as strings"),
    (["a"], None, TypeError, "Graph: expected (name, (layer, inputs)) pairs, got 'a'"),
    ({}, None, ValueError, "Graph needs at least one node"),
], ids=[
    "cycle", "long-cycle", "self-loop", "unknown-reference", "duplicate", "reserved-input",
    "dotted-name", "empty-name", "non-str-name", "unknown-output", "output-is-input",
    "dangling", "dangling-two", "merge-one-input", "merge-one-input-tuple",
    "layer-two-inputs", "layer-no-input", "class-not-instance", "not-a-layer", "not-a-pair",
    "triple", "source-not-str", "source-list-not-str", "pairs-not-pairs", "empty",
])
def test_construction_errors_name_the_node(nodes, output, error, message):
    with pytest.raises(error, match=re.escape(message)):
        mg.Graph(nodes, output=output)


def test_fan_out_refuses_a_wrongly_shaped_branch_gradient_instead_of_broadcasting():
    class BadShape(mg.Layer[None]):
        def forward(self, x):
            self.cache = None
            return x

        def backward(self, grad_out):
            return grad_out[:1]  # (1, d): would broadcast against the other branch's (n, d)

    graph = mg.Graph({"a": (mg.Identity(), "input"), "b": (BadShape(), "input"),
                      "out": (mg.Add(), ("a", "b"))})
    graph(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"at Graph\['a'\]: Identity\(\).backward returned a "
                                         r"gradient of shape \(3, 2\), but the other consumers "
                                         r"of that input returned shape \(1, 2\)"):
        graph.backward(np.ones((3, 2)))
