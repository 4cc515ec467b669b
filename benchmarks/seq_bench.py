"""Sequence and normalization layers against PyTorch CPU: forward + backward, one thread.

    python benchmarks/seq_bench.py [--steps N] [--quick]
                                   [--cases lstm gru lstm2bi gru2bi batchnorm2d layernorm
                                            rmsnorm attention encoderlayer prelu mish
                                            transformer charlm]

Each case builds one minigrad layer and the same PyTorch module with the same weights,
float32, and times a training step of the layer alone: a forward on a fixed input, then
a backward of a fixed output gradient that computes every parameter gradient *and* the
input gradient (PyTorch: ``requires_grad`` input, ``backward(g)``). Before timing, both
run once and their outputs and gradients must agree (relative 1e-3 of the largest
value, float32), so a fast wrong answer cannot win.

Both libraries run on one thread: threadpoolctl limits NumPy's BLAS (the table's header
says which library and kernel threadpoolctl found) and ``torch.set_num_threads(1)``.
Timing interleaves the contenders round by round (`bench.measure_samples`, without its
pauses for spinning BLAS threads: there are none at one thread); the table shows the
median per step over ``--steps`` rounds, the ratio minigrad / PyTorch of the medians
(judged against the issue's target) and of the fastest steps (less sensitive to other
work on a shared machine). Where a case has one, the textbook formula typed in plain
NumPy runs in the same rounds (and passes the same check): its ratio to PyTorch is the
floor a layer written with NumPy calls stands on (``layernorm``).

``lstm2bi`` and ``gru2bi`` are 2-layer bidirectional layers (four one-direction loops,
the second layer reading 2H features): their target is the single layer's times 1.2,
the most the composition of layers and directions may cost.

``encoderlayer`` is `TransformerEncoderLayer` (itself a composite of minigrad's layers)
against ``nn.TransformerEncoderLayer``. Two cases are whole models rather than one
layer: ``transformer``, two pre-norm causal blocks (LayerNorm -> MultiHeadAttention ->
Add; LayerNorm -> Dense -> GELU -> Dense -> Add) against the same ``nn.Module``
(``nn.LayerNorm``, ``nn.MultiheadAttention`` with a causal mask, ``nn.Linear``,
``nn.GELU``), forward + backward as above; and ``charlm``, one training epoch of
``examples/char_lm.py``'s default LSTM model (``mg.fit`` with Adam, no progress output)
against the same model as a PyTorch loop over the same batches (``nn.Embedding``,
``nn.LSTM``, ``nn.Linear``, ``nn.CrossEntropyLoss``, ``optim.Adam``); its check compares
the first batch's loss, before any update.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import Contender, fmt_time, measure_samples, ratio  # beside this file

import minigrad as mg

F32 = np.float32


@dataclass
class SeqCase:
    name: str
    shape: str
    target: float | None  # minigrad / PyTorch, from the issue
    minigrad: Callable[[], list[np.ndarray]]  # one step; returns [output, input grad, grads...]
    torch: Callable[[], list[np.ndarray]]
    numpy: Callable[[], list[np.ndarray]] | None = None  # the textbook formula by hand, if any


def torch_step(module: Any, x: np.ndarray, g: np.ndarray,
               call: Callable[[Any, Any], Any] | None = None) -> Callable[[], list[np.ndarray]]:
    """A PyTorch step: forward on ``x`` (requires grad), ``backward(g)``."""
    import torch

    tx = torch.from_numpy(x).requires_grad_()
    tg = torch.from_numpy(g)
    params = list(module.parameters())

    def step() -> list[np.ndarray]:
        tx.grad = None
        for p in params:
            p.grad = None
        y = call(module, tx) if call is not None else module(tx)
        y.backward(tg)
        assert tx.grad is not None
        return [y.detach().numpy(), tx.grad.numpy()] + [p.grad.numpy() for p in params]

    return step


def minigrad_step(layer: mg.Layer[Any], x: np.ndarray, g: np.ndarray,
                  params: list[mg.Parameter]) -> Callable[[], list[np.ndarray]]:
    """A minigrad step: ``zero_grad``, forward, ``backward`` (input gradient included)."""

    def step() -> list[np.ndarray]:
        layer.zero_grad()
        y = layer(x)
        dx = layer.backward(g)
        return [y, dx] + [p.grad for p in params]

    return step


def copy_into(torch_params: list[Any], ours: list[mg.Parameter]) -> None:
    import torch

    with torch.no_grad():
        for t, p in zip(torch_params, ours, strict=True):
            t.copy_(torch.from_numpy(p.data.reshape(t.shape)))


def recurrent_case(kind: str, quick: bool, num_layers: int = 1,
                   bidirectional: bool = False) -> SeqCase:
    """One recurrent layer; stacked or bidirectional, its target is the single layer's
    times 1.2 (the composition may cost at most 20% more per layer and direction)."""
    import torch

    n, t, d, h = (4, 6, 8, 16) if quick else (32, 50, 64, 128)
    rng = np.random.default_rng(0)
    options = {"num_layers": num_layers, "bidirectional": bidirectional}
    ours = getattr(mg, kind)(d, h, rng=rng, dtype=F32, **options)
    theirs = getattr(torch.nn, kind)(d, h, batch_first=True, **options)
    params = ours.parameters()  # PyTorch's names, in PyTorch's order
    copy_into(list(theirs.parameters()), params)
    directions = 2 if bidirectional else 1
    x = rng.standard_normal((n, t, d)).astype(F32)
    g = rng.standard_normal((n, t, directions * h)).astype(F32)
    name = kind + (f", {num_layers} layers" if num_layers > 1 else "") + (
        ", bidirectional" if bidirectional else "")
    target = 1.7 if num_layers == directions == 1 else 1.7 * 1.2
    return SeqCase(name, f"batch {n}, T {t}, in {d}, hidden {h}", target,
                   minigrad_step(ours, x, g, params),
                   torch_step(theirs, x, g, lambda m, tx: m(tx)[0]))


def batchnorm2d_case(quick: bool) -> SeqCase:
    import torch

    shape = (4, 8, 5, 5) if quick else (32, 64, 16, 16)
    rng = np.random.default_rng(1)
    ours = mg.BatchNorm2D(shape[1], dtype=F32)
    theirs = torch.nn.BatchNorm2d(shape[1])
    ours.weight.data[...] = rng.uniform(0.5, 1.5, shape[1])
    ours.bias.data[...] = rng.standard_normal(shape[1])
    params = [ours.weight, ours.bias]
    copy_into([theirs.weight, theirs.bias], params)
    x = rng.standard_normal(shape).astype(F32)
    g = rng.standard_normal(shape).astype(F32)
    return SeqCase("BatchNorm2D (training)", f"{shape}", 1.8,
                   minigrad_step(ours, x, g, params), torch_step(theirs, x, g))


def layernorm_case(quick: bool) -> SeqCase:
    import torch

    shape = (4, 8, 32) if quick else (32, 64, 256)
    rng = np.random.default_rng(2)
    ours = mg.LayerNorm(shape[-1], dtype=F32)
    theirs = torch.nn.LayerNorm(shape[-1])
    ours.weight.data[...] = rng.uniform(0.5, 1.5, shape[-1])
    ours.bias.data[...] = rng.standard_normal(shape[-1])
    params = [ours.weight, ours.bias]
    copy_into([theirs.weight, theirs.bias], params)
    x = rng.standard_normal(shape).astype(F32)
    g = rng.standard_normal(shape).astype(F32)
    return SeqCase("LayerNorm", f"{shape}, over the last {shape[-1]}", 2.0,
                   minigrad_step(ours, x, g, params), torch_step(theirs, x, g),
                   layernorm_by_hand(x, g, ours.weight.data, ours.bias.data, ours.eps))


def layernorm_by_hand(x: np.ndarray, g: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      eps: float) -> Callable[[], list[np.ndarray]]:
    """LayerNorm as one would type it with NumPy alone: forward, and the three-term
    backward ``dL/dx = r (Ĝ − mean(Ĝ) − x̂ mean(Ĝ ⊙ x̂))`` with ``Ĝ = G ⊙ γ`` -- the
    floor a layer written in NumPy stands on, timed in the same rounds."""
    rows, grads = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])

    def step() -> list[np.ndarray]:
        centred = rows - rows.mean(axis=1, keepdims=True)
        inv_std = 1 / np.sqrt(np.einsum("ij,ij->i", centred, centred)[:, None]
                              / rows.shape[1] + eps)
        normalized = centred * inv_std
        y = normalized * gamma + beta
        scaled = grads * gamma
        dx = inv_std * (scaled - scaled.mean(axis=1, keepdims=True)
                        - normalized * (scaled * normalized).mean(axis=1, keepdims=True))
        return [y.reshape(x.shape), dx.reshape(x.shape), (grads * normalized).sum(axis=0),
                grads.sum(axis=0)]

    return step


def activation_case(kind: str, quick: bool) -> SeqCase:
    """One of issue 21's activations on a conv-sized batch: `PReLU` with a slope per
    channel (its weight gradient a reduction over all but axis 1), or `Mish`."""
    import torch

    shape = (4, 8, 5, 5) if quick else (32, 64, 16, 16)
    rng = np.random.default_rng(5)
    ours: mg.Layer[Any]
    params: list[mg.Parameter] = []
    if kind == "PReLU":
        ours = mg.PReLU(shape[1], dtype=F32)
        ours.weight.data[...] = rng.uniform(-0.5, 0.5, shape[1])
        theirs = torch.nn.PReLU(shape[1])
        params = [ours.weight]
        copy_into([theirs.weight], params)
    else:
        ours, theirs = mg.Mish(), torch.nn.Mish()
    x = 3 * rng.standard_normal(shape).astype(F32)
    g = rng.standard_normal(shape).astype(F32)
    return SeqCase(kind, f"{shape}", None, minigrad_step(ours, x, g, params),
                   torch_step(theirs, x, g))
def rmsnorm_case(quick: bool) -> SeqCase:
    import torch

    shape = (4, 8, 32) if quick else (32, 64, 256)
    rng = np.random.default_rng(4)
    ours = mg.RMSNorm(shape[-1], dtype=F32)
    theirs = torch.nn.RMSNorm(shape[-1])
    ours.weight.data[...] = rng.uniform(0.5, 1.5, shape[-1])
    copy_into([theirs.weight], [ours.weight])
    x = rng.standard_normal(shape).astype(F32)
    g = rng.standard_normal(shape).astype(F32)
    return SeqCase("RMSNorm", f"{shape}, over the last {shape[-1]}", None,
                   minigrad_step(ours, x, g, [ours.weight]), torch_step(theirs, x, g))


def attention_case(quick: bool) -> SeqCase:
    import torch

    n, t, e, heads = (2, 8, 16, 4) if quick else (16, 64, 128, 4)
    rng = np.random.default_rng(3)
    ours = mg.MultiHeadAttention(e, heads, rng=rng, dtype=F32)
    theirs = torch.nn.MultiheadAttention(e, heads, batch_first=True)
    assert ours.in_proj_bias is not None and ours.out_proj_bias is not None
    ours.in_proj_bias.data[...] = rng.standard_normal(3 * e) * 0.1
    ours.out_proj_bias.data[...] = rng.standard_normal(e) * 0.1
    params = [ours.in_proj_weight, ours.in_proj_bias, ours.out_proj_weight, ours.out_proj_bias]
    copy_into([theirs.in_proj_weight, theirs.in_proj_bias, theirs.out_proj.weight,
               theirs.out_proj.bias], params)
    x = rng.standard_normal((n, t, e)).astype(F32)
    g = rng.standard_normal((n, t, e)).astype(F32)
    return SeqCase("MultiHeadAttention", f"batch {n}, T {t}, E {e}, {heads} heads", None,
                   minigrad_step(ours, x, g, params),
                   torch_step(theirs, x, g,
                              lambda m, tx: m(tx, tx, tx, need_weights=False)[0]))


def encoder_layer_case(quick: bool) -> SeqCase:
    """`TransformerEncoderLayer` against ``nn.TransformerEncoderLayer`` (post-norm, ReLU,
    dropout 0 so that training mode is deterministic), PyTorch's weights loaded into it."""
    import torch

    from minigrad.export import to_torch

    n, t, e, heads, ff = (2, 8, 16, 4, 32) if quick else (16, 64, 128, 4, 512)
    rng = np.random.default_rng(5)
    ours = mg.TransformerEncoderLayer(e, heads, ff, dropout=0.0, rng=rng, dtype=F32)
    for param in ours.parameters():  # non-trivial biases and norms
        if param.data.ndim == 1:
            param.data[...] += rng.standard_normal(param.shape).astype(F32) * 0.1
    theirs = torch.nn.TransformerEncoderLayer(e, heads, ff, dropout=0.0, batch_first=True)
    theirs.load_state_dict(to_torch(ours).state_dict())
    params = ours.parameters()
    x = rng.standard_normal((n, t, e)).astype(F32)
    g = rng.standard_normal((n, t, e)).astype(F32)
    step = minigrad_step(ours, x, g, params)
    dense_weights = {id(ours.linear1.weight), id(ours.linear2.weight)}

    def torch_layout_step() -> list[np.ndarray]:  # Dense's (in, out) gradients as (out, in)
        out = step()
        return out[:2] + [grad.T if id(p) in dense_weights else grad
                          for p, grad in zip(params, out[2:], strict=True)]

    return SeqCase("TransformerEncoderLayer", f"batch {n}, T {t}, d_model {e}, {heads} heads, "
                   f"feedforward {ff}", None, torch_layout_step, torch_step(theirs, x, g))


def torch_block(e: int, heads: int, t: int) -> Any:
    """The PyTorch twin of `char_lm.transformer_block` (causal, pre-norm)."""
    import torch

    class Block(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.norm1, self.norm2 = torch.nn.LayerNorm(e), torch.nn.LayerNorm(e)
            self.attn = torch.nn.MultiheadAttention(e, heads, batch_first=True)
            self.up, self.down = torch.nn.Linear(e, 4 * e), torch.nn.Linear(4 * e, e)
            self.register_buffer("mask", torch.ones(t, t, dtype=torch.bool).triu(1))

        def forward(self, x: Any) -> Any:
            h = self.norm1(x)
            x = x + self.attn(h, h, h, attn_mask=self.mask, need_weights=False,
                              is_causal=True)[0]
            return x + self.down(torch.nn.functional.gelu(self.up(self.norm2(x))))

    return Block()


def block_pairs(ours: mg.Graph, theirs: Any) -> list[tuple[mg.Parameter, Any, bool]]:
    """(minigrad parameter, torch parameter, transposed?) for one block."""
    nodes = ours.nodes
    attn = nodes["attn"]
    pairs = [(nodes["norm1"].weight, theirs.norm1.weight, False),
             (nodes["norm1"].bias, theirs.norm1.bias, False),
             (attn.in_proj_weight, theirs.attn.in_proj_weight, False),
             (attn.in_proj_bias, theirs.attn.in_proj_bias, False),
             (attn.out_proj_weight, theirs.attn.out_proj.weight, False),
             (attn.out_proj_bias, theirs.attn.out_proj.bias, False),
             (nodes["norm2"].weight, theirs.norm2.weight, False),
             (nodes["norm2"].bias, theirs.norm2.bias, False)]
    for name in ("up", "down"):  # Dense (in, out) against Linear (out, in)
        pairs += [(nodes[name].weight, getattr(theirs, name).weight, True),
                  (nodes[name].bias, getattr(theirs, name).bias, False)]
    return pairs


def copy_pairs(pairs: list[tuple[mg.Parameter, Any, bool]]) -> None:
    import torch

    with torch.no_grad():
        for ours, theirs, transposed in pairs:
            theirs.copy_(torch.from_numpy(ours.data.T if transposed else ours.data))


def transformer_case(quick: bool) -> SeqCase:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from char_lm import transformer_block

    n, t, e, heads = (2, 8, 16, 4) if quick else (16, 64, 128, 4)
    rng = np.random.default_rng(4)
    ours = mg.Sequential(*(transformer_block(e, heads, rng) for _ in range(2)))
    theirs = torch.nn.Sequential(*(torch_block(e, heads, t) for _ in range(2)))
    pairs = [pair for block, twin in zip(ours, theirs, strict=True)
             for pair in block_pairs(block, twin)]
    for param, _, _ in pairs:  # non-trivial biases and norms
        if param.name in ("bias", "in_proj_bias", "out_proj_bias"):
            param.data[...] = rng.standard_normal(param.shape) * 0.1
    copy_pairs(pairs)
    x = rng.standard_normal((n, t, e)).astype(F32)
    g = rng.standard_normal((n, t, e)).astype(F32)
    params = [p for p, _, _ in pairs]
    tx, tg = torch.from_numpy(x).requires_grad_(), torch.from_numpy(g)

    def torch_model_step() -> list[np.ndarray]:
        tx.grad = None
        for _, p, _ in pairs:
            p.grad = None
        y = theirs(tx)
        y.backward(tg)
        assert tx.grad is not None
        return [y.detach().numpy(), tx.grad.numpy()] + [
            p.grad.numpy().T if transposed else p.grad.numpy() for _, p, transposed in pairs]

    return SeqCase("Transformer, 2 blocks (causal)", f"batch {n}, T {t}, E {e}, {heads} heads",
                   2.0, minigrad_step(ours, x, g, params), torch_model_step)


def charlm_case(quick: bool) -> SeqCase:
    """One epoch of examples/char_lm.py's default LSTM model, minigrad `fit` vs a
    PyTorch loop over the same batches."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    import char_lm

    config = char_lm.Config(chars=4_000 if quick else char_lm.Config.chars)
    if quick:
        config.hidden, config.embed = 16, 8
    text = char_lm.load_text()
    vocab = char_lm.Vocabulary(text)
    X, Y = char_lm.windows(vocab.encode(text[:config.chars]), config.seq_len)
    ours = char_lm.build_model(config, len(vocab))
    emb, lstm, dense = ours
    t_emb = torch.nn.Embedding(len(vocab), config.embed)
    t_lstm = torch.nn.LSTM(config.embed, config.hidden, batch_first=True)
    t_dense = torch.nn.Linear(config.hidden, len(vocab))
    with torch.no_grad():
        t_emb.weight.copy_(torch.from_numpy(emb.weight.data))
        for name, param in lstm.named_parameters():  # PyTorch's names
            getattr(t_lstm, name).copy_(torch.from_numpy(param.data))
        t_dense.weight.copy_(torch.from_numpy(dense.weight.data.T))
        t_dense.bias.copy_(torch.from_numpy(dense.bias.data))
    modules = torch.nn.ModuleList([t_emb, t_lstm, t_dense])
    loss_fn, t_loss_fn = mg.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    optimizer = mg.Adam(ours.parameters(), lr=config.lr)
    t_optimizer = torch.optim.Adam(modules.parameters(), lr=config.lr)
    size = config.batch_size
    order = np.random.default_rng(0).permutation(len(X))  # both see the same batches
    X, Y = X[order], Y[order]
    first = X[:size], Y[:size]

    def minigrad_epoch() -> list[np.ndarray]:
        before = np.array(loss_fn(ours(first[0]), first[1]))
        mg.fit(ours, loss_fn, optimizer, X, Y, epochs=1, batch_size=size, shuffle=False,
               progress=False)
        return [before]

    def torch_epoch() -> list[np.ndarray]:
        with torch.no_grad():
            logits = t_dense(t_lstm(t_emb(torch.from_numpy(first[0])))[0])
            before = t_loss_fn(logits.reshape(-1, len(vocab)),
                               torch.from_numpy(first[1]).reshape(-1)).numpy()
        for start in range(0, len(X), size):
            xb, yb = torch.from_numpy(X[start:start + size]), torch.from_numpy(
                Y[start:start + size])
            t_optimizer.zero_grad()
            logits = t_dense(t_lstm(t_emb(xb))[0])
            loss = t_loss_fn(logits.reshape(-1, len(vocab)), yb.reshape(-1))
            loss.backward()
            t_optimizer.step()
        return [np.array(before)]

    return SeqCase("char-LM epoch (LSTM)", f"{len(X)} windows of {config.seq_len}, batch "
                   f"{size}, E {config.embed}, hidden {config.hidden}", 2.0, minigrad_epoch,
                   torch_epoch)


CASES: dict[str, Callable[[bool], SeqCase]] = {
    "lstm": lambda quick: recurrent_case("LSTM", quick),
    "gru": lambda quick: recurrent_case("GRU", quick),
    "lstm2bi": lambda quick: recurrent_case("LSTM", quick, num_layers=2, bidirectional=True),
    "gru2bi": lambda quick: recurrent_case("GRU", quick, num_layers=2, bidirectional=True),
    "batchnorm2d": batchnorm2d_case,
    "layernorm": layernorm_case,
    "rmsnorm": rmsnorm_case,
    "attention": attention_case,
    "encoderlayer": encoder_layer_case,
    "prelu": lambda quick: activation_case("PReLU", quick),
    "mish": lambda quick: activation_case("Mish", quick),
    "transformer": transformer_case,
    "charlm": charlm_case,
}


def check(case: SeqCase) -> None:
    """Both steps must give the same output, input gradient and parameter gradients."""
    theirs = case.torch()
    steps = {"minigrad": case.minigrad} | ({} if case.numpy is None else {"NumPy": case.numpy})
    for who, step in steps.items():
        ours = step()
        labels = (["output", "input gradient"] + [f"parameter gradient {i}"
                                                  for i in range(len(ours) - 2)]
                  if len(ours) > 1 else ["first batch's loss"])
        for label, a, b in zip(labels, ours, theirs, strict=True):
            scale = float(np.abs(b).max()) or 1.0
            if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=1e-3 * scale):
                raise SystemExit(f"{case.name}: {who}'s {label} disagrees with PyTorch's "
                                 f"(largest difference {np.abs(a - b).max():.3g}, "
                                 f"scale {scale:.3g})")


def blas_info() -> str:
    from threadpoolctl import threadpool_info

    return "; ".join(
        f"{i.get('internal_api')} {i.get('version') or ''} "
        + (f"kernel {i['architecture']} " if i.get("architecture") else "")
        + f"({i.get('num_threads')} threads, {Path(i.get('filepath', '?')).name})"
        for i in threadpool_info()
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed rounds per contender")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    args = parser.parse_args(argv)
    try:
        import torch
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        parser.error(f"needs PyTorch and threadpoolctl ({exc})")
    threadpool_limits(1)
    torch.set_num_threads(1)

    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# minigrad {mg.__version__} sequence-layer benchmarks, {now}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; Python "
          f"{platform.python_version()}, NumPy {np.__version__}, PyTorch {torch.__version__} "
          f"({torch.get_num_threads()} thread)")
    print(f"BLAS (threadpoolctl): {blas_info()}")
    print(f"env: OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    print(f"float32, forward + backward (input and parameter gradients), median of "
          f"{args.steps} interleaved rounds\n")
    print("| layer | shape | minigrad | torch | mg/torch | best/best | NumPy by hand / torch "
          "| target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.cases:
        case = CASES[name](args.quick)
        check(case)
        contenders = {  # no weights to compare: `check` compared the gradients
            "minigrad": Contender(lambda c=case: float(c.minigrad()[0].flat[0]), list),
            "torch": Contender(lambda c=case: float(c.torch()[0].flat[0]), list),
        }
        if case.numpy is not None:
            contenders["numpy"] = Contender(lambda f=case.numpy: float(f()[0].flat[0]), list)
        samples = measure_samples(contenders, args.steps, pause=False)  # nothing spins
        ours, theirs = (float(np.median(samples[name])) for name in ("minigrad", "torch"))
        best = min(samples["minigrad"]) / min(samples["torch"])
        by_hand = ("--" if case.numpy is None
                   else ratio(float(np.median(samples["numpy"])), theirs))
        target = "--" if case.target is None else f"≤ {case.target}×"
        met = "--" if case.target is None else ("yes" if ours / theirs <= case.target else "no")
        print(f"| {case.name} | {case.shape} | {fmt_time(ours)} | {fmt_time(theirs)} "
              f"| {ratio(ours, theirs)} | {best:.2f}× | {by_hand} | {target} | {met} |",
              flush=True)


if __name__ == "__main__":
    main()
