"""Follow-ups of the review of the new features: transformer masks set in the wrong place
and their reprs, sequence accuracy, unpooling geometry, the one bool check, the
branch-free LeakyReLU/ELU and bool sample weights."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.core import check_bool
from minigrad.layers.activations import from_output
from minigrad.layers.attention import kernel as attention_kernel
from minigrad.layers.conv import pooling

# -- 1. transformer masks: the real switches, documented; misplaced ones refused --------


def test_decoder_docstring_says_how_to_make_it_causal_in_a_container() -> None:
    doc = mg.TransformerDecoderLayer.__doc__ or ""
    assert "dec.self_attn.causal = True" in doc
    assert "multihead_attn.key_padding_mask" in doc
    assert "self_attn.causal = True" in (mg.TransformerEncoderLayer.__doc__ or "")


def test_the_self_attention_switch_makes_the_decoder_causal() -> None:
    rng = np.random.default_rng(0)
    tgt, memory = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 3, 8))
    dec = mg.TransformerDecoderLayer(8, 2, 16, dropout=0.0, rng=0)
    plain = dec(tgt, memory)
    causal = dec(tgt, memory, tgt_is_causal=True)
    assert not np.allclose(plain, causal)  # the mask matters on this input
    dec.self_attn.causal = True
    np.testing.assert_array_equal(dec(tgt, memory), causal)


@pytest.mark.parametrize(("kind", "name", "switch"), [
    ("decoder", "tgt_is_causal", "layer.self_attn.causal = True"),
    ("decoder", "is_causal", "layer.self_attn.causal = True"),
    ("decoder", "causal", "layer.self_attn.causal = True"),
    ("decoder", "tgt_mask", "layer.self_attn.attn_mask"),
    ("decoder", "tgt_key_padding_mask", "layer.self_attn.key_padding_mask"),
    ("decoder", "memory_key_padding_mask", "layer.multihead_attn.key_padding_mask"),
    ("decoder", "memory_mask", "layer.multihead_attn.attn_mask"),
    ("decoder", "memory_is_causal", "layer.multihead_attn.causal = True"),
    ("encoder", "is_causal", "layer.self_attn.causal = True"),
    ("encoder", "src_mask", "layer.self_attn.attn_mask"),
    ("encoder", "src_key_padding_mask", "layer.self_attn.key_padding_mask"),
    ("encoder", "key_padding_mask", "layer.self_attn.key_padding_mask"),
])
def test_a_mask_set_on_the_layer_itself_is_refused_naming_the_real_switch(
        kind: str, name: str, switch: str) -> None:
    layer = (mg.TransformerDecoderLayer if kind == "decoder" else mg.TransformerEncoderLayer)(
        8, 2, 16, rng=0)
    with pytest.raises(AttributeError, match=rf"{type(layer).__name__}: {name} is not a "
                                             rf"setting .* set {re.escape(switch)}"):
        setattr(layer, name, True)
    assert name not in vars(layer)


def test_ordinary_attributes_of_the_transformer_layers_still_set() -> None:
    dec = mg.TransformerDecoderLayer(8, 2, 16, rng=0)
    dec.eval()
    dec.note = "kept"  # type: ignore[attr-defined]
    assert not dec.training and vars(dec)["note"] == "kept"
    mask = np.zeros((2, 4), bool)
    dec.self_attn.key_padding_mask = mask
    assert dec.self_attn.key_padding_mask is mask


# -- 2. the transformer layers' repr shows the options that are not the defaults --------


def test_transformer_repr_shows_non_default_options() -> None:
    assert repr(mg.TransformerEncoderLayer(8, 2, 16, rng=0)) == (
        "TransformerEncoderLayer(8, nhead=2, dim_feedforward=16)")
    assert repr(mg.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, activation="gelu", layer_norm_eps=1e-6, norm_first=True,
        bias=False, dtype=np.float32, rng=0)) == (
        "TransformerEncoderLayer(8, nhead=2, dim_feedforward=16, dropout=0.0, "
        "activation='gelu', layer_norm_eps=1e-06, norm_first=True, bias=False, "
        "dtype=float32)")
    assert repr(mg.TransformerDecoderLayer(8, 2, 16, activation=mg.SiLU(), bias=False,
                                           rng=0)) == (
        "TransformerDecoderLayer(8, nhead=2, dim_feedforward=16, activation=SiLU(), "
        "bias=False)")
    assert "activation=GELU(approximate='tanh')" in repr(
        mg.TransformerEncoderLayer(8, 2, 16, activation=mg.GELU("tanh"), rng=0))


# -- 3. accuracy on sequences, with ignore_index ----------------------------------------


def _tagger_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 5, 4)), rng.integers(0, 4, (3, 5))


def test_accuracy_scores_every_position_of_a_sequence() -> None:
    scores, tags = _tagger_case()
    right = scores.argmax(-1) == tags
    assert mg.accuracy(scores, tags) == right.mean()
    assert mg.accuracy(scores, np.eye(4)[tags]) == right.mean()  # one-hot (N, T, C)
    assert mg.accuracy(scores.reshape(15, 4), tags.reshape(15)) == right.mean()


def test_accuracy_leaves_out_ignore_index_as_cross_entropy_does() -> None:
    scores, tags = _tagger_case(1)
    padded = tags.copy()
    padded[0, 3:] = -100
    padded[2, 1:] = -100
    kept = padded != -100
    want = (scores.argmax(-1) == tags)[kept].mean()
    assert mg.accuracy(scores, padded) == want
    padded[padded == -100] = 7  # another padding value, outside the classes
    assert mg.accuracy(scores, padded, ignore_index=7) == want
    with pytest.raises(ValueError, match=r"in \[0, 4\), got values from 0 to 7"):
        mg.accuracy(scores, padded)
    with pytest.raises(ValueError, match=r"in \[0, 4\), got values from -100"):
        mg.accuracy(scores, np.where(kept, tags, -100), ignore_index=None)
    with pytest.raises(ValueError, match="every target is ignore_index"):
        mg.accuracy(scores, np.full((3, 5), -100))
    with pytest.raises(TypeError, match=r"ignore_index must be an int or None, got 1\.0"):
        mg.accuracy(scores, tags, ignore_index=1.0)  # type: ignore[arg-type]


def test_accuracy_refuses_a_sequence_target_of_the_wrong_shape() -> None:
    scores, tags = _tagger_case()
    with pytest.raises(ValueError, match=r"class indices \(3, 5\) or one row per prediction "
                                         r"\(3, 5, 4\), got \(3, 4\)"):
        mg.accuracy(scores, tags[:, :4])


def test_accuracy_of_binary_sequences() -> None:
    rng = np.random.default_rng(2)
    logits, labels = rng.standard_normal((3, 5, 1)), rng.integers(0, 2, (3, 5))
    want = ((logits[..., 0] > 0) == labels).mean()
    assert mg.accuracy(logits, labels, threshold=0) == want
    assert mg.accuracy(logits, labels[..., None], threshold=0) == want


def test_a_tagger_trains_with_accuracy_in_fit() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 5, 3))
    y = (X[..., 0] > 0).astype(np.int64)
    y[:4, 3:] = -100  # padding, ignored by the loss and by the metric
    model = mg.Sequential(mg.Dense(3, 2, bias=True, rng=0))
    history = mg.fit(model, mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.5), X, y,
                     epochs=3, batch_size=12, rng=0, validation_data=(X, y),
                     metrics=[mg.accuracy], progress=False)
    assert history.history["val_accuracy"][-1] == mg.accuracy(mg.predict(model, X), y)
    assert 0.0 <= history.history["accuracy"][0] <= 1.0


def test_sequence_accuracy_on_torch_matches_numpy() -> None:
    torch = pytest.importorskip("torch")
    scores, tags = _tagger_case(4)
    tags[1, 2:] = -100
    assert mg.accuracy(torch.from_numpy(scores), torch.from_numpy(tags)) == mg.accuracy(
        scores, tags)


# -- 4. an unpooling layer reading a pool takes the pool's geometry ---------------------


@pytest.mark.parametrize(("arguments", "shown"), [
    ((3,), "kernel_size=(3, 3)"),
    ((2, 1), "kernel_size=(2, 2), stride=(1, 1)"),
    ((2, 2, 1), "kernel_size=(2, 2), padding=(1, 1)"),
])
def test_unpool_refuses_a_window_other_than_its_pools(arguments: tuple[int, ...],
                                                      shown: str) -> None:
    pool = mg.MaxPool2D(2, return_indices=True)
    with pytest.raises(ValueError, match=rf"MaxUnpool2D: the window \({re.escape(shown)}\) "
                                         r"must be that of its indices_from pool "
                                         r"MaxPool2D\(kernel_size=\(2, 2\), "
                                         r"return_indices=True\)"):
        mg.MaxUnpool2D(*arguments, indices_from=pool)


def test_unpool_with_its_pools_window_is_accepted_in_every_dimension() -> None:
    for pool_type, unpool_type in ((mg.MaxPool1D, mg.MaxUnpool1D),
                                   (mg.MaxPool2D, mg.MaxUnpool2D),
                                   (mg.MaxPool3D, mg.MaxUnpool3D)):
        pool = pool_type(3, 2, 1, return_indices=True)
        assert unpool_type(3, 2, 1, indices_from=pool).indices_from is pool
        with pytest.raises(ValueError, match="must be that of its indices_from pool"):
            unpool_type(3, 3, 1, indices_from=pool)


# -- 5. one bool check, TypeError everywhere -------------------------------------------


def test_one_bool_check_for_every_family() -> None:
    assert pooling.check_flag is check_bool
    assert not hasattr(attention_kernel, "check_flag")
    with pytest.raises(TypeError, match="f: x must be a bool, got 1"):
        check_bool("f", "x", 1)
    assert check_bool("f", "x", np.True_) is True


@pytest.mark.parametrize(("make", "message"), [
    (lambda: mg.BatchNorm2D(2, affine=1), "BatchNorm2D: affine must be a bool, got 1"),
    (lambda: mg.LayerNorm(4, bias="no"), "LayerNorm: bias must be a bool, got 'no'"),
    (lambda: mg.SGD([mg.Parameter(np.ones(2))], lr=0.1, maximize=1),
     "SGD: maximize must be a bool, got 1"),
    (lambda: mg.Adam([mg.Parameter(np.ones(2))], amsgrad="yes"),
     "Adam: amsgrad must be a bool, got 'yes'"),
    (lambda: mg.Embedding(5, 2, scale_grad_by_freq=1),
     "Embedding: scale_grad_by_freq must be a bool, got 1"),
    (lambda: mg.MaxPool2D(2, ceil_mode=1), "MaxPool2D: ceil_mode must be a bool, got 1"),
    (lambda: mg.AdaptiveMaxPool2D(2, return_indices=0),
     "AdaptiveMaxPool2D: return_indices must be a bool, got 0"),
    (lambda: mg.MultiHeadAttention(4, 2, causal=None),
     "MultiHeadAttention: causal must be a bool, got None"),
])
def test_a_non_bool_flag_is_a_type_error_in_every_family(make, message) -> None:
    with pytest.raises(TypeError) as info:
        make()
    assert str(info.value) == message


def test_a_non_bool_flag_in_a_param_group_keeps_its_type_and_names_the_group() -> None:
    groups = [{"params": [mg.Parameter(np.ones(2))]},
              {"params": [mg.Parameter(np.ones(2))], "maximize": 1}]
    with pytest.raises(TypeError, match=r"SGD: maximize must be a bool, got 1 "
                                        r"\(param group 1\)"):
        mg.SGD(groups, lr=0.1)


# -- 6. LeakyReLU and ELU through the branch-free select, bit for bit -------------------


def _inputs(dtype: type) -> np.ndarray:
    x = np.random.default_rng(5).standard_normal((4, 257)).astype(dtype)
    x[0, :4] = [0.0, -0.0, 1e-30, -1e-30]
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("layer", "function", "gradient"), [
    (mg.LeakyReLU(0.2), lambda x: np.where(x > 0, x, x * 0.2),
     lambda y, g: np.where(y > 0, g, g * 0.2)),
    (mg.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0.0))),
     lambda y, g: np.where(y > 0, g, g * (y + 0.7))),
])
def test_leaky_relu_and_elu_are_bit_identical_to_where(layer, function, gradient,
                                                       dtype) -> None:
    x = _inputs(dtype)
    g = np.random.default_rng(6).standard_normal(x.shape).astype(dtype)
    g[1, :3] = [np.inf, -0.0, np.nan]  # the fallback to where, for a non-finite gradient
    y = layer(x)
    want = function(x)
    assert y.dtype == dtype and y.tobytes() == want.tobytes()
    assert layer.backward(g).tobytes() == gradient(want, g).tobytes()


def test_leaky_relu_and_elu_use_the_select_kernel(monkeypatch) -> None:
    calls = []

    def counting(condition, a, b):
        calls.append(condition.shape)
        return mg.backend.select(condition, a, b)

    monkeypatch.setattr(from_output, "select", counting)
    x = _inputs(np.float64)
    for layer in (mg.LeakyReLU(), mg.ELU()):
        layer(x)
        layer.backward(np.ones_like(x))
    assert calls == [x.shape] * 4


# -- 7. bool sample weights are refused ------------------------------------------------


def test_bool_sample_weight_is_refused_with_the_cast_to_use() -> None:
    X, y = np.random.default_rng(7).standard_normal((6, 2)), np.arange(6) % 2
    model = mg.Sequential(mg.Dense(2, 2, rng=0))
    mask = y == 1

    def run(weight: object) -> mg.History:
        return mg.fit(model, mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.1), X, y,
                      epochs=1, rng=0, sample_weight=weight, progress=False)

    with pytest.raises(TypeError, match=r"sample_weight must hold numbers, got a bool array; "
                                        r"for 0/1 weights from a mask, pass "
                                        r"mask.astype\(float\)"):
        run(mask)
    assert len(run(mask.astype(float)).history["loss"]) == 1
    with pytest.raises(ValueError, match="class_weight must be a dict"):
        mg.fit(model, mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.1), X, y,
               epochs=1, rng=0, class_weight=np.array([True, False]), progress=False)
