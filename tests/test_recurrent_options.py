"""Every option of the recurrent layers against PyTorch (float64, rtol 1e-7): num_layers,
bidirectional, bias, dropout, the RNN's nonlinearity, the LSTM's proj_size -- forward,
input gradient, every parameter gradient, initial and final states and their gradients;
the one-step cells against ``nn.RNNCell``/``LSTMCell``/``GRUCell``; finite differences;
dropout's masks; bad arguments."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import check_layer

torch = pytest.importorskip("torch")
RTOL = 1e-7
N, T, D, H = 3, 5, 4, 5


def close(ours, theirs) -> None:
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=1e-12)


KINDS = {  # name -> (minigrad class, torch class, extra options of both)
    "rnn": (mg.RNN, torch.nn.RNN, {}),
    "rnn-relu": (mg.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (mg.LSTM, torch.nn.LSTM, {}),
    "lstm-proj": (mg.LSTM, torch.nn.LSTM, {"proj_size": 3}),
    "gru": (mg.GRU, torch.nn.GRU, {}),
}


def pair(kind: str, return_sequences: bool = True, **options):
    """A minigrad layer with random parameters and its torch twin, holding the same."""
    ours_cls, torch_cls, extra = KINDS[kind]
    options = {**extra, **options}
    ours = ours_cls(D, H, return_sequences=return_sequences, rng=1, **options)
    theirs = torch_cls(D, H, batch_first=True, **options).double()
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict())  # PyTorch's names, in its order
    theirs.load_state_dict({key: torch.tensor(value) for key, value in state.items()})
    return ours, theirs


def states(ours, rng) -> tuple[list[np.ndarray], object]:
    """Random state arrays in PyTorch's layout, and the same in minigrad's form."""
    lead = ours.num_layers * ours.directions
    widths = [ours.proj_size or H] + ([H] if isinstance(ours, mg.LSTM) else [])
    parts = [rng.standard_normal((lead, N, width)) for width in widths]
    form = [p[0] for p in parts] if lead == 1 else parts  # (N, ·) for one layer, one way
    return parts, (tuple(form) if isinstance(ours, mg.LSTM) else form[0])


def as_parts(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def in_torch_layout(ours, state) -> list[np.ndarray]:
    single = ours.num_layers * ours.directions == 1
    return [part[None] if single else part for part in as_parts(state)]


def final_h(theirs, final):
    """torch's output without ``return_sequences``: each direction's final h, joined."""
    h_n = final[0] if isinstance(final, tuple) else final
    return torch.cat(list(h_n[-(2 if theirs.bidirectional else 1):]), dim=1)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
def test_every_option_matches_torch(kind, num_layers, bidirectional, bias,
                                    return_sequences) -> None:
    rng = np.random.default_rng(num_layers + 10 * bidirectional)
    ours, theirs = pair(kind, return_sequences, num_layers=num_layers,
                        bidirectional=bidirectional, bias=bias)
    x = rng.standard_normal((N, T, D))
    start, start_ours = states(ours, rng)
    start_t = [torch.tensor(part, requires_grad=True) for part in start]
    xt = torch.tensor(x, requires_grad=True)
    out, final = theirs(xt, tuple(start_t) if len(start_t) == 2 else start_t[0])
    y_t = out if return_sequences else final_h(theirs, final)
    g = rng.standard_normal(tuple(y_t.shape))
    # a loss on the final state too: final_state_grad
    final_t = final if isinstance(final, tuple) else (final,)
    g_final = [rng.standard_normal(tuple(part.shape)) for part in final_t]
    loss = (y_t * torch.tensor(g)).sum() + sum(
        (part * torch.tensor(gf)).sum() for part, gf in zip(final_t, g_final))
    loss.backward()

    y = ours(x, start_ours)
    single = num_layers * ours.directions == 1
    g_final_form = [gf[0] if single else gf for gf in g_final]
    dx = ours.backward(g, tuple(g_final_form) if len(g_final) == 2 else g_final_form[0])
    close(y, y_t)
    close(dx, xt.grad)
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        close(param.grad, theirs_params[name].grad)
    for ours_part, theirs_part in zip(in_torch_layout(ours, ours.final_state), final_t):
        close(ours_part, theirs_part)
    for ours_part, tensor in zip(in_torch_layout(ours, ours.initial_state_grad), start_t):
        close(ours_part, tensor.grad)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "lstm-proj", "gru"])
def test_zero_initial_state_and_output_only_gradient_match_torch(kind) -> None:
    rng = np.random.default_rng(3)
    ours, theirs = pair(kind, num_layers=2, bidirectional=True)
    x = rng.standard_normal((N, T, D))
    xt = torch.tensor(x, requires_grad=True)
    out, _ = theirs(xt)
    g = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(g))
    close(ours(x), out)
    close(ours.backward(g), xt.grad)
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        close(param.grad, theirs_params[name].grad)
    ours.zero_grad()
    ours.backward_params(g)  # the same parameter gradients without the input's
    for name, param in ours.named_parameters():
        close(param.grad, theirs_params[name].grad)


@pytest.mark.parametrize("kind", ["rnn", "lstm-proj", "gru"])
@pytest.mark.parametrize(("p", "training"), [(0.0, True), (0.4, False), (1.0, True)])
def test_dropout_matches_torch_where_it_is_deterministic(kind, p, training) -> None:
    """p = 0 in training and any p in evaluation are no dropout; p = 1 in training zeroes
    every layer's input but the first's -- all three equal PyTorch's."""
    rng = np.random.default_rng(4)
    ours, theirs = pair(kind, num_layers=3, bidirectional=True, dropout=p)
    ours.train(training)
    theirs.train(training)
    x = rng.standard_normal((N, T, D))
    xt = torch.tensor(x, requires_grad=True)
    out, _ = theirs(xt)
    g = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(g))
    close(ours(x), out)
    close(ours.backward(g), xt.grad)
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        close(param.grad, theirs_params[name].grad)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_training_dropout_applies_its_masks_between_layers_only(kind) -> None:
    """In training, layer k >= 1 reads ``y⁽ᵏ⁾ ⊙ keep / (1 − p)``, ``keep =
    rng.random((N, T, F)) >= p`` drawn from the layer's rng, layer by layer: the same as
    single-layer torch modules chained by hand with those masks (forward and gradients)."""
    p, layers = 0.3, 3
    rng = np.random.default_rng(5)
    ours, theirs = pair(kind, num_layers=layers, bidirectional=True, dropout=p)
    x = rng.standard_normal((N, T, D))
    g = rng.standard_normal((N, T, 2 * H))
    draws = copy.deepcopy(ours.rng)  # the generator as the forward will find it
    y = ours(x)
    dx = ours.backward(g)
    masks = [(draws.random((N, T, 2 * H)) >= p) / (1 - p) for _ in range(layers - 1)]

    xt = torch.tensor(x, requires_grad=True)
    h = xt
    state = theirs.state_dict()
    singles = []
    for k in range(layers):
        if k > 0:
            h = h * torch.tensor(masks[k - 1])
        single = type(theirs)(h.shape[-1], H, batch_first=True, bidirectional=True).double()
        single.load_state_dict({key.replace(f"_l{k}", "_l0"): value for key, value in
                                state.items() if f"_l{k}" in key})
        singles.append(single)
        h = single(h)[0]
    h.backward(torch.tensor(g))
    close(y, h)
    close(dx, xt.grad)
    for k, single in enumerate(singles):
        for name, param in single.named_parameters():
            close(getattr(ours, name.replace("_l0", f"_l{k}")).grad, param.grad)
    # the masks are the rng's: the same seed gives the same training output again
    again, _ = pair(kind, num_layers=layers, bidirectional=True, dropout=p)
    np.testing.assert_array_equal(again(x), y)
    assert not np.allclose(again(x), y)  # and the next forward draws new masks


def test_dropout_is_never_applied_after_the_last_layer() -> None:
    ours = mg.LSTM(D, H, num_layers=1, dropout=0.9, rng=0)
    x = np.random.default_rng(6).standard_normal((N, T, D))
    training = ours(x)
    np.testing.assert_array_equal(training, ours.eval()(x))


@pytest.mark.parametrize("layer", [
    mg.LSTM(3, 3, num_layers=2, bidirectional=True, proj_size=2, bias=False, rng=0),
    mg.LSTM(3, 3, False, num_layers=3, proj_size=1, rng=0),
    mg.GRU(3, 2, num_layers=2, bidirectional=True, dropout=0.5, rng=0).eval(),
    mg.RNN(3, 2, "relu", False, num_layers=2, bidirectional=True, bias=False, rng=0),
    mg.RNNCell(3, 2, False, "relu", rng=0),
    mg.LSTMCell(3, 2, False, rng=0),
    mg.GRUCell(3, 2, False, rng=0),
], ids=repr)
def test_options_meet_the_layer_contract(layer) -> None:
    shape = (4, 3) if isinstance(layer, (mg.RNNCell, mg.LSTMCell, mg.GRUCell)) else (2, 4, 3)
    check_layer(layer, np.random.default_rng(7).standard_normal(shape))


# -- the cells ---------------------------------------------------------------------------

CELLS = {
    "rnn": (lambda **kw: mg.RNNCell(D, H, rng=2, **kw), torch.nn.RNNCell, {}),
    "rnn-relu": (lambda **kw: mg.RNNCell(D, H, nonlinearity="relu", rng=2, **kw),
                 torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (lambda **kw: mg.LSTMCell(D, H, rng=2, **kw), torch.nn.LSTMCell, {}),
    "gru": (lambda **kw: mg.GRUCell(D, H, rng=2, **kw), torch.nn.GRUCell, {}),
}


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "zeros"])
def test_cells_match_torch(kind, bias, with_state) -> None:
    make, torch_cls, extra = CELLS[kind]
    ours = make(bias=bias)
    theirs = torch_cls(D, H, bias=bias, **extra).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    lstm = kind == "lstm"
    rng = np.random.default_rng(8)
    x = rng.standard_normal((N, D))
    raw = [rng.standard_normal((N, H)) for _ in range(2 if lstm else 1)]
    tensors = [torch.tensor(a, requires_grad=True) for a in raw]
    state = (tuple(raw) if lstm else raw[0]) if with_state else None
    xt = torch.tensor(x, requires_grad=True)
    out = theirs(xt, (tuple(tensors) if lstm else tensors[0]) if with_state else None)
    parts = out if lstm else (out,)
    grads = [rng.standard_normal((N, H)) for _ in parts]
    loss = sum((part * torch.tensor(gp)).sum() for part, gp in zip(parts, grads))
    loss.backward()
    h = ours(x, state)
    close(h, parts[0])
    for ours_part, part in zip(as_parts(ours.final_state), parts):
        close(ours_part, part)
    # dL/dh' is the output's gradient; dL/dc' arrives as final_state_grad
    dx = ours.backward(grads[0], (np.zeros((N, H)), grads[1]) if lstm else None)
    close(dx, xt.grad)
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        close(param.grad, theirs_params[name].grad)
    if with_state:
        for ours_part, tensor in zip(as_parts(ours.initial_state_grad), tensors):
            close(ours_part, tensor.grad)


@pytest.mark.parametrize(("cell", "layer"), [
    (lambda: mg.LSTMCell(D, H, rng=3), lambda: mg.LSTM(D, H, rng=3)),
    (lambda: mg.GRUCell(D, H, rng=3), lambda: mg.GRU(D, H, rng=3)),
    (lambda: mg.RNNCell(D, H, rng=3), lambda: mg.RNN(D, H, rng=3)),
])
def test_a_cell_unrolled_by_hand_is_the_sequence_layer(cell, layer) -> None:
    """The loop docs/sequences.md shows: stash after each step's forward, unstash before
    its backward, each step's initial_state_grad the previous step's final_state_grad."""
    c, whole = cell(), layer()
    for name, param in c.named_parameters():
        getattr(whole, name + "_l0").data[...] = param.data
    rng = np.random.default_rng(9)
    x, g = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, H))
    state, outputs, stashes = None, [], []
    for t in range(T):
        outputs.append(c(x[:, t], state))
        state = c.final_state
        stashes.append(c.stash())
    grads, carried = [], None
    for t in reversed(range(T)):
        c.unstash(stashes[t])
        grads.insert(0, c.backward(g[:, t], carried))
        carried = c.initial_state_grad
    close(np.stack(outputs, axis=1), whole(x))
    close(np.stack(grads, axis=1), whole.backward(g))
    for name, param in c.named_parameters():
        close(param.grad, getattr(whole, name + "_l0").grad)


# -- bad arguments and states ---------------------------------------------------------------

@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: mg.LSTM(4, 5, num_layers=0), ValueError,
     r"LSTM: num_layers must be an int >= 1, got 0"),
    (lambda: mg.GRU(4, 5, num_layers=1.5), ValueError, r"GRU: num_layers .* got 1\.5"),
    (lambda: mg.RNN(4, 5, num_layers=True), ValueError, r"RNN: num_layers .* got True"),
    (lambda: mg.LSTM(4, 5, dropout=-0.1), ValueError, r"LSTM: dropout must be a number in "
                                                      r"\[0, 1\], got -0\.1"),
    (lambda: mg.GRU(4, 5, dropout=1.5), ValueError, r"GRU: dropout .* got 1\.5"),
    (lambda: mg.GRU(4, 5, dropout="0.1"), ValueError, r"GRU: dropout .* got '0\.1'"),
    (lambda: mg.LSTM(4, 5, proj_size=5), ValueError, r"LSTM: proj_size must be in \[0, "
                                                     r"hidden_size\) = \[0, 5\), got 5"),
    (lambda: mg.LSTM(4, 5, proj_size=-1), ValueError, r"LSTM: proj_size .* got -1"),
    (lambda: mg.RNN(4, 5, "sigmoid"), ValueError, r"RNN: nonlinearity must be 'tanh' or "
                                                  r"'relu', got 'sigmoid'"),
    (lambda: mg.RNN(4, 5, bidirectional=1), TypeError, r"RNN: bidirectional must be a bool"),
    (lambda: mg.GRU(4, 5, bias="yes"), TypeError, r"GRU: bias must be a bool, got 'yes'"),
    (lambda: mg.LSTMCell(4, 0), ValueError, r"LSTMCell: hidden_size must be an int >= 1"),
    (lambda: mg.RNNCell(4, 5, nonlinearity="gelu"), ValueError, r"RNNCell: nonlinearity"),
    (lambda: mg.GRUCell(4, 5, bias=None), TypeError, r"GRUCell: bias must be a bool"),
])
def test_bad_arguments_are_refused_naming_the_layer_and_value(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


def test_bad_states_are_refused_with_the_expected_layout() -> None:
    x = np.ones((2, 3, 4))
    lstm = mg.LSTM(4, 5, num_layers=2, bidirectional=True, proj_size=3, rng=0)
    with pytest.raises(ValueError, match=r"initial_state must be a pair \(h0, c0\) of arrays "
                                         r"\(4, 2, 3\) and \(4, 2, 5\), got shape \(2, 3\)"):
        lstm(x, (np.zeros((2, 3)), np.zeros((2, 5))))
    gru = mg.GRU(4, 5, num_layers=2, rng=0)
    with pytest.raises(ValueError, match=r"initial_state must be an array \(2, 2, 5\)"):
        gru(x, np.zeros((1, 2, 5)))
    gru(x)
    with pytest.raises(ValueError, match=r"final_state_grad must be an array \(2, 2, 5\)"):
        gru.backward(np.ones((2, 3, 5)), np.zeros((2, 5)))
    cell = mg.LSTMCell(4, 5, rng=0)
    with pytest.raises(TypeError, match=r"LSTMCell\(4, 5\): initial_state must be a pair"):
        cell(np.ones((2, 4)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"LSTMCell\(4, 5\) expected input of shape "
                                         r"\(batch, 4\)"):
        cell(x)


def test_repr_names_the_options() -> None:
    assert repr(mg.LSTM(4, 5, num_layers=2, bidirectional=True, proj_size=3, dropout=0.5)) == (
        "LSTM(4, 5, num_layers=2, dropout=0.5, bidirectional=True, proj_size=3)")
    assert repr(mg.RNN(4, 5, "relu", False, bias=False)) == (
        "RNN(4, 5, bias=False, nonlinearity='relu', return_sequences=False)")
    assert repr(mg.GRUCell(4, 5, False, dtype=np.float32)) == (
        "GRUCell(4, 5, bias=False, dtype=float32)")
