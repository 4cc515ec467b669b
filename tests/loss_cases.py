"""The losses of issue 22, one `Case` per configuration: how to build the minigrad loss,
PyTorch's functional reference, and data. Shared by tests/test_losses_more.py (against
torch, finite differences, float32, libraries) and tests/test_backend_training.py.

The configurations include those PyTorch tests its own modules with
(``torch/testing/_internal/common_modules.py``, ``module_inputs_torch_nn_*Loss``, and the
no-batch ones of ``common_nn.py``): the same shapes, options and kinds of targets, with
inputs drawn in each loss's domain (common_modules draws log-probabilities as logs of
numbers in [-9, 9], NaN for half of them).

A case's inputs are a tuple: one array for a `mg.Loss`, several for a
`mg.MultiInputLoss` (PyTorch's order); the target is an array, or None (triplets).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import minigrad as mg

Inputs = tuple[Any, ...]
Data = Callable[[np.random.Generator], tuple[Inputs, Any]]


@dataclass(frozen=True)
class Case:
    make: Callable[[str], mg.Loss[Any]]
    """The loss for a reduction."""
    reference: Callable[..., Any]
    """``reference(*torch_inputs, torch_target, reduction)``: torch.nn.functional's value."""
    data: Data
    reductions: tuple[str, ...] = ("none", "mean", "sum")
    finite_differences: bool = True
    """Whether central differences (step 1e-6) see the analytic gradient. False: a clamp
    PyTorch passes the gradient through, or a change on the step's own scale (a zero
    vector's norm is √1e-12 = 1e-6); checked against PyTorch only."""


def F() -> Any:
    """torch.nn.functional, imported when a reference runs (torch is optional here)."""
    import torch

    return torch.nn.functional


def T(array: Any) -> Any:
    """A float64 torch constant for a loss option."""
    import torch

    return torch.tensor(np.asarray(array, dtype=np.float64))


W10 = np.random.default_rng(99).random(10) + 0.1  # a weight per class, as common_modules'
W4 = np.random.default_rng(98).random(4) + 0.1


def probabilities(shape: tuple[int, ...]) -> Data:
    """BCE's data: probabilities in [0.01, 0.99] (common_modules' range), 0/1 targets."""
    return lambda rng: ((np.asarray(rng.uniform(0.01, 0.99, shape)),),
                        np.asarray(rng.standard_normal(shape) > 0).astype(np.float64))


def logits(shape: tuple[int, ...], soft: bool = False) -> Data:
    """Logits and 0/1 targets (or any reals: common_nn's no-batch soft targets)."""
    return lambda rng: ((3 * rng.standard_normal(shape),),
                        rng.standard_normal(shape) if soft
                        else rng.integers(0, 2, shape).astype(np.float64))


def log_probabilities(shape: tuple[int, ...], log_target: bool = False) -> Data:
    def draw(rng: np.random.Generator) -> tuple[Inputs, Any]:
        p, q = rng.random(shape) + 0.05, rng.random(shape)
        if q.ndim:
            q.flat[::3] = 0.0  # zero target probabilities: 0 · log 0 = 0
        target = np.log(q + 0.1) if log_target else q
        return (np.asarray(np.log(p / (p.sum(-1, keepdims=True) if p.ndim else p + 1))),), \
            np.asarray(target)
    return draw


def counts(shape: tuple[int, ...], log_input: bool = True) -> Data:
    """common_modules' Poisson data: log-rates (or rates > 0.001) and counts 0..5."""
    def draw(rng: np.random.Generator) -> tuple[Inputs, Any]:
        x = rng.uniform(-2, 2, shape) if log_input else rng.uniform(0.001, 4, shape)
        return (x,), np.floor(rng.uniform(0, 6, shape))
    return draw


def gaussian(var_shape: tuple[int, ...] | None, low: float = 0.1) -> Data:
    """Means and targets (4, 3); variances of ``var_shape`` in [low, low + 1] (None: the
    number 0.7)."""
    return lambda rng: ((rng.standard_normal((4, 3)),
                         0.7 if var_shape is None else rng.uniform(low, low + 1, var_shape)),
                        rng.standard_normal((4, 3)))


def signed(shape: tuple[int, ...], ints: bool = False) -> Data:
    """Scores and ±1 targets (as float, or int as common_nn's)."""
    def draw(rng: np.random.Generator) -> tuple[Inputs, Any]:
        y = np.where(rng.standard_normal(shape) > 0, 1, -1)
        return (np.asarray(2 * rng.standard_normal(shape)),), (y if ints else y.astype(np.float64))
    return draw


def ranking(shape: tuple[int, ...]) -> Data:
    """Two score arrays and targets sign(integer): -1, 0 or 1, as common_modules'."""
    return lambda rng: ((np.asarray(rng.standard_normal(shape)),
                         np.asarray(rng.standard_normal(shape))),
                        np.sign(rng.integers(-3, 4, shape)).astype(np.float64))


def classes(shape: tuple[int, ...]) -> Data:
    return lambda rng: ((2 * rng.standard_normal(shape),), rng.integers(0, shape[-1], shape[:-1]))


def pairs(shape: tuple[int, ...], zero_rows: bool = False) -> Data:
    def draw(rng: np.random.Generator) -> tuple[Inputs, Any]:
        x1, x2 = rng.standard_normal(shape), rng.standard_normal(shape)
        if zero_rows:
            x2[0] = 0.0  # a zero vector: ε keeps its cosine finite, and its gradient ~1e6
        return (x1, x2), np.where(rng.standard_normal(shape[:-1]) > 0, 1.0, -1.0)
    return draw


def triplets(shape: tuple[int, ...], tie: bool = False) -> Data:
    def draw(rng: np.random.Generator) -> tuple[Inputs, Any]:
        a, p, n = (rng.standard_normal(shape) for _ in range(3))
        if tie:
            p[..., 0, :] = a[..., 0, :]  # d(a, n) = d(p, n): swap's minimum shares the gradient
        return (a, p, n), None
    return draw


def kl_div(x: Any, t: Any, r: str, log_target: bool = False) -> Any:
    """torch's kl_div, without its warning that "mean" is not the KL divergence (the
    docstring of mg.KLDivLoss says so)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "reduction: 'mean' divides", UserWarning)
        return F().kl_div(x, t, reduction=r, log_target=log_target)


def bce_with_logits(**options: Any) -> Callable[..., Any]:
    return lambda x, t, r: F().binary_cross_entropy_with_logits(
        x, t, reduction=r, **{k: T(v) for k, v in options.items()})


CASES: dict[str, Case] = {
    # -- probabilistic ----------------------------------------------------------------
    "BCE": Case(lambda r: mg.BCELoss(r),
                lambda x, t, r: F().binary_cross_entropy(x, t, reduction=r),
                probabilities((15, 10))),
    "BCE-weights": Case(lambda r: mg.BCELoss(r, weight=W10),
                        lambda x, t, r: F().binary_cross_entropy(x, t, weight=T(W10), reduction=r),
                        probabilities((15, 10))),
    "BCE-scalar-weight": Case(lambda r: mg.BCELoss(r, weight=0.6),
                              lambda x, t, r: F().binary_cross_entropy(x, t, weight=T(0.6),
                                                                      reduction=r),
                              probabilities(())),
    "BCE-soft-targets": Case(lambda r: mg.BCELoss(r, weight=W4[:, None]),
                             lambda x, t, r: F().binary_cross_entropy(
                                 x, t, weight=T(W4[:, None]).expand(4, 3), reduction=r),
                             lambda rng: ((rng.uniform(0.01, 0.99, (4, 3)),), rng.random((4, 3)))),
    "BCEWithLogits-weights": Case(lambda r: mg.BCEWithLogitsLoss(r, weight=W10),
                                  bce_with_logits(weight=W10), logits((15, 10))),
    "BCEWithLogits-scalar-weights": Case(lambda r: mg.BCEWithLogitsLoss(r, weight=0.4),
                                         bce_with_logits(weight=0.4), logits((15, 10))),
    "BCEWithLogits-weight-pos_weight": Case(
        lambda r: mg.BCEWithLogitsLoss(r, pos_weight=W4[:3] * 3, weight=W4[:, None]),
        bce_with_logits(pos_weight=W4[:3] * 3, weight=W4[:, None]), logits((4, 3), soft=True)),
    "KLDiv": Case(lambda r: mg.KLDivLoss(r),
                  kl_div, log_probabilities((10, 10)),
                  ("none", "batchmean", "mean", "sum")),
    "KLDiv-log_target": Case(lambda r: mg.KLDivLoss(r, log_target=True),
                             lambda x, t, r: kl_div(x, t, r, log_target=True),
                             log_probabilities((10, 10), log_target=True),
                             ("none", "batchmean", "mean", "sum")),
    "KLDiv-scalar": Case(lambda r: mg.KLDivLoss(r),
                         kl_div, log_probabilities(()),
                         ("none", "batchmean", "mean", "sum")),
    "PoissonNLL": Case(lambda r: mg.PoissonNLLLoss(r),
                       lambda x, t, r: F().poisson_nll_loss(x, t, reduction=r),
                       counts((2, 3, 4, 5))),
    "PoissonNLL-full": Case(lambda r: mg.PoissonNLLLoss(r, full=True),
                            lambda x, t, r: F().poisson_nll_loss(x, t, full=True, reduction=r),
                            counts((2, 3, 4, 5))),
    "PoissonNLL-no_log_input": Case(
        lambda r: mg.PoissonNLLLoss(r, log_input=False),
        lambda x, t, r: F().poisson_nll_loss(x, t, log_input=False, reduction=r),
        counts((2, 3, 4, 5), log_input=False)),
    "PoissonNLL-full-no_log_input-eps": Case(
        lambda r: mg.PoissonNLLLoss(r, log_input=False, full=True, eps=0.01),
        lambda x, t, r: F().poisson_nll_loss(x, t, log_input=False, full=True, eps=0.01,
                                             reduction=r),
        counts((3, 5), log_input=False)),
    "GaussianNLL": Case(lambda r: mg.GaussianNLLLoss(r),
                        lambda m, v, t, r: F().gaussian_nll_loss(m, t, v, reduction=r),
                        gaussian((4, 3))),
    "GaussianNLL-var-per-row": Case(lambda r: mg.GaussianNLLLoss(r),
                                    lambda m, v, t, r: F().gaussian_nll_loss(m, t, v, reduction=r),
                                    gaussian((4,))),
    "GaussianNLL-var-4x1": Case(lambda r: mg.GaussianNLLLoss(r),  # common_modules' default
                                lambda m, v, t, r: F().gaussian_nll_loss(m, t, v, reduction=r),
                                gaussian((4, 1))),
    "GaussianNLL-homoscedastic": Case(
        lambda r: mg.GaussianNLLLoss(r, full=True),
        lambda m, v, t, r: F().gaussian_nll_loss(m, t, v, full=True, reduction=r),
        gaussian((1, 3))),
    "GaussianNLL-number": Case(lambda r: mg.GaussianNLLLoss(r),
                               lambda m, v, t, r: F().gaussian_nll_loss(m, t, v, reduction=r),
                               gaussian(None)),
    "GaussianNLL-clamped": Case(  # variances below eps: the clamp passes the gradient on
        lambda r: mg.GaussianNLLLoss(r, eps=0.3),
        lambda m, v, t, r: F().gaussian_nll_loss(m, t, v, eps=0.3, reduction=r),
        gaussian((4, 3), low=0.0), finite_differences=False),
    # -- margin -----------------------------------------------------------------------
    "MarginRanking": Case(lambda r: mg.MarginRankingLoss(r),
                          lambda a, b, t, r: F().margin_ranking_loss(a, b, t, reduction=r),
                          ranking((50,))),
    "MarginRanking-margin": Case(
        lambda r: mg.MarginRankingLoss(r, margin=0.5),
        lambda a, b, t, r: F().margin_ranking_loss(a, b, t, margin=0.5, reduction=r),
        ranking((50,))),
    "MarginRanking-scalar": Case(
        lambda r: mg.MarginRankingLoss(r, margin=-0.2),
        lambda a, b, t, r: F().margin_ranking_loss(a, b, t, margin=-0.2, reduction=r),
        ranking(())),
    "HingeEmbedding": Case(lambda r: mg.HingeEmbeddingLoss(r),
                           lambda x, t, r: F().hinge_embedding_loss(x, t, reduction=r),
                           signed((10,))),
    "HingeEmbedding-margin": Case(
        lambda r: mg.HingeEmbeddingLoss(r, margin=0.5),
        lambda x, t, r: F().hinge_embedding_loss(x, t, margin=0.5, reduction=r), signed((10,))),
    "HingeEmbedding-scalar": Case(lambda r: mg.HingeEmbeddingLoss(r),
                                  lambda x, t, r: F().hinge_embedding_loss(x, t, reduction=r),
                                  signed(())),
    "HingeEmbedding-int-targets": Case(
        lambda r: mg.HingeEmbeddingLoss(r),
        lambda x, t, r: F().hinge_embedding_loss(x, t, reduction=r), signed((9,), ints=True)),
    "SoftMargin": Case(lambda r: mg.SoftMarginLoss(r),
                       lambda x, t, r: F().soft_margin_loss(x, t, reduction=r), signed((5, 5))),
    "SoftMargin-int-targets": Case(lambda r: mg.SoftMarginLoss(r),
                                   lambda x, t, r: F().soft_margin_loss(x, t, reduction=r),
                                   signed((9,), ints=True)),
    "MultiLabelSoftMargin": Case(
        lambda r: mg.MultiLabelSoftMarginLoss(r),
        lambda x, t, r: F().multilabel_soft_margin_loss(x, t, reduction=r), logits((5, 10))),
    "MultiLabelSoftMargin-weight": Case(
        lambda r: mg.MultiLabelSoftMarginLoss(r, weight=W10),
        lambda x, t, r: F().multilabel_soft_margin_loss(x, t, weight=T(W10), reduction=r),
        logits((5, 10))),
    "MultiLabelSoftMargin-no-batch-soft": Case(
        lambda r: mg.MultiLabelSoftMarginLoss(r),
        lambda x, t, r: F().multilabel_soft_margin_loss(x, t, reduction=r),
        logits((9,), soft=True)),
    "MultiLabelSoftMargin-sequences": Case(  # (N, T, C): classes last in both
        lambda r: mg.MultiLabelSoftMarginLoss(r, weight=W4),
        lambda x, t, r: F().multilabel_soft_margin_loss(x, t, weight=T(W4), reduction=r),
        logits((2, 3, 4))),
    "MultiMargin": Case(lambda r: mg.MultiMarginLoss(r),
                        lambda x, t, r: F().multi_margin_loss(x, t, reduction=r), classes((5, 10))),
    "MultiMargin-p": Case(lambda r: mg.MultiMarginLoss(r, p=2),
                          lambda x, t, r: F().multi_margin_loss(x, t, p=2, reduction=r),
                          classes((5, 10))),
    "MultiMargin-margin": Case(lambda r: mg.MultiMarginLoss(r, margin=0.5),
                               lambda x, t, r: F().multi_margin_loss(x, t, margin=0.5, reduction=r),
                               classes((5, 10))),
    "MultiMargin-weights": Case(
        lambda r: mg.MultiMarginLoss(r, weight=W10),
        lambda x, t, r: F().multi_margin_loss(x, t, weight=T(W10), reduction=r), classes((5, 10))),
    "MultiMargin-1d": Case(lambda r: mg.MultiMarginLoss(r, p=2, margin=2.0, weight=W10),
                           lambda x, t, r: F().multi_margin_loss(x, t, p=2, margin=2.0,
                                                                 weight=T(W10), reduction=r),
                           classes((10,))),
    # -- embedding --------------------------------------------------------------------
    "CosineEmbedding": Case(lambda r: mg.CosineEmbeddingLoss(r),
                            lambda a, b, t, r: F().cosine_embedding_loss(a, b, t, reduction=r),
                            pairs((15, 10))),
    "CosineEmbedding-margin": Case(
        lambda r: mg.CosineEmbeddingLoss(r, margin=0.7),
        lambda a, b, t, r: F().cosine_embedding_loss(a, b, t, margin=0.7, reduction=r),
        pairs((15, 10))),
    "CosineEmbedding-zero-vector": Case(
        lambda r: mg.CosineEmbeddingLoss(r, margin=-0.5),
        lambda a, b, t, r: F().cosine_embedding_loss(a, b, t, margin=-0.5, reduction=r),
        pairs((6, 3), zero_rows=True), finite_differences=False),
    "CosineEmbedding-no-batch": Case(
        lambda r: mg.CosineEmbeddingLoss(r),
        lambda a, b, t, r: F().cosine_embedding_loss(a, b, t, reduction=r), pairs((9,))),
    "TripletMargin": Case(lambda r: mg.TripletMarginLoss(r),
                          lambda a, p, n, t, r: F().triplet_margin_loss(a, p, n, reduction=r),
                          triplets((5, 4))),
    "TripletMargin-swap": Case(
        lambda r: mg.TripletMarginLoss(r, margin=3.0, swap=True),
        lambda a, p, n, t, r: F().triplet_margin_loss(a, p, n, margin=3.0, swap=True,
                                                      reduction=r),
        triplets((6, 4))),
    "TripletMargin-swap-tie": Case(
        lambda r: mg.TripletMarginLoss(r, margin=3.0, swap=True),
        lambda a, p, n, t, r: F().triplet_margin_loss(a, p, n, margin=3.0, swap=True,
                                                      reduction=r),
        triplets((3, 4), tie=True)),
    "TripletMargin-p1": Case(
        lambda r: mg.TripletMarginLoss(r, margin=2.0, p=1),
        lambda a, p, n, t, r: F().triplet_margin_loss(a, p, n, margin=2.0, p=1, reduction=r),
        triplets((5, 4))),
    "TripletMargin-p3-eps0": Case(
        lambda r: mg.TripletMarginLoss(r, margin=2.0, p=3.5, eps=0.0, swap=True),
        lambda a, p, n, t, r: F().triplet_margin_loss(a, p, n, margin=2.0, p=3.5, eps=0.0,
                                                      swap=True, reduction=r),
        triplets((5, 4))),
    "TripletMargin-no-batch": Case(
        lambda r: mg.TripletMarginLoss(r, margin=2.0),
        lambda a, p, n, t, r: F().triplet_margin_loss(a, p, n, margin=2.0, reduction=r),
        triplets((9,))),
}


def stackable(name: str) -> bool:
    """Whether a case's inputs can be given stacked: several arrays of one shape."""
    inputs, _ = CASES[name].data(np.random.default_rng(0))
    return len(inputs) > 1 and all(isinstance(x, np.ndarray) and x.shape == inputs[0].shape
                                   for x in inputs)


def as_pred(loss: mg.Loss[Any], inputs: Inputs, stacked: bool = False) -> Any:
    """The ``pred`` a loss takes for ``inputs``: the array, the tuple, or the stack."""
    if not isinstance(loss, mg.MultiInputLoss):
        return inputs[0]
    return np.stack(inputs, axis=loss.stack_axis) if stacked else tuple(inputs)


def gradients(loss: mg.Loss[Any], upstream: Any = None) -> tuple[Any, ...]:
    """One gradient per input of the latest forward (the tuple form's for several)."""
    if isinstance(loss, mg.MultiInputLoss):
        return loss.backward_inputs(upstream)
    return (loss.backward(upstream),)


__all__ = ["CASES", "Case", "as_pred", "gradients", "stackable"]
