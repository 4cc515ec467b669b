"""The residual-MLP example: its block is a correct Graph, and it beats the plain MLP."""

from __future__ import annotations

import numpy as np
import residual_mlp

from minigrad.testing.layer_contract import check_layer


def test_residual_block_meets_the_layer_contract():
    rng = np.random.default_rng(0)
    check_layer(residual_mlp.residual_block(rng), rng.standard_normal((3, residual_mlp.WIDTH)))


def test_same_layers_same_parameter_count():
    plain, residual = residual_mlp.build(residual=False), residual_mlp.build(residual=True)
    assert [p.shape for p in plain.parameters()] == [p.shape for p in residual.parameters()]


def test_residual_beats_plain(capsys):
    state = np.random.get_state()
    plain, residual = residual_mlp.main()
    assert residual < 0.5 * plain
    # y is standardized: 1.0 is the loss of predicting the mean. The plain net gets about
    # that far (a fair opponent, not a diverged one); the residual net gets much further.
    assert 0.9 < plain < 1.01
    out = capsys.readouterr().out
    assert f"{plain:.4f}" in out and f"{residual:.4f}" in out
    after = np.random.get_state()
    assert np.array_equal(state[1], after[1]) and state[2] == after[2]
