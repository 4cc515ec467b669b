"""A character-level language model of Python's own documentation (no download).

The text is the standard library's ``pydoc_data/topics.py``: the help topics of the
language reference, 465,048 characters of English and code, joined in sorted order.
The first 90% trains, the last 10% validates. Cut into windows of ``T`` characters, the
model predicts every next character: inputs ``text[i : i+T]``, targets
``text[i+1 : i+T+1]``, scored by `mg.CrossEntropyLoss` on logits ``(N, T, vocab)``.

Two models, chosen by ``--model``:

- ``lstm`` (default): Embedding -> LSTM -> Dense; ``--layers N`` stacks N LSTM layers,
  ``--dropout P`` drops between them in training (PyTorch's ``num_layers``, ``dropout``).
- ``transformer``: Embedding + learned positions -> pre-norm causal transformer blocks
  (LayerNorm -> MultiHeadAttention -> Add; LayerNorm -> Dense -> GELU -> Dense -> Add)
  -> LayerNorm -> Dense.

Training is `mg.fit` with Adam (its progress bar or epoch lines on stderr); every
epoch prints the training and validation loss and perplexity ``exp(loss)``, next to
the validation perplexity of a character-unigram model (each character's frequency in
the training text) -- the bar to clear. Then the model writes text from a prompt,
sampling one character at a time (temperature 0.8).

Run ``python examples/char_lm.py [--model transformer] [--epochs N] [--chars N]
[--layers N --dropout P]``;
importing this file trains nothing. Measured with ``OPENBLAS_NUM_THREADS=1 python
examples/char_lm.py`` (one BLAS thread; the machine and the date: the README's
Examples): the defaults (the LSTM, float32, the first 200,000 training characters, 5
epochs) reached a validation perplexity of 5.3 against the unigram's 27.6, in 47 s of
CPU (120 s wall: the machine was busy); with OpenBLAS's default two threads, 231 s of
CPU and 268 s wall.
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from typing_extensions import override

import minigrad as mg
from minigrad.core import as_batch, as_grad

F32 = np.float32


@dataclass
class Config:
    model: str = "lstm"
    epochs: int = 5
    chars: int | None = 200_000  # training characters used (None: all 418,543)
    seq_len: int = 64
    batch_size: int = 32
    lr: float = 3e-3
    embed: int = 64  # embedding width (the transformer's E)
    hidden: int = 256  # LSTM state width
    layers: int = 1  # stacked LSTM layers
    dropout: float = 0.0  # between the LSTM's layers, in training
    blocks: int = 2  # transformer blocks
    heads: int = 4
    sample: int = 300  # characters to sample
    prompt: str = "The "
    seed: int = 0
    progress: bool = True


def load_text() -> str:
    """The help topics of ``pydoc_data.topics``, joined in sorted order."""
    from pydoc_data.topics import topics

    return "\n".join(topics[key] for key in sorted(topics))


class Vocabulary:
    """Characters <-> ids, in sorted order of the characters of a text."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.ids = {char: i for i, char in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.ids[char] for char in text], dtype=np.int64)

    def decode(self, ids: np.ndarray) -> str:
        return "".join(self.chars[i] for i in ids)


def windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows: inputs ``(N, T)`` and the next characters ``(N, T)``."""
    n = (len(ids) - 1) // seq_len
    inputs = ids[:n * seq_len].reshape(n, seq_len)
    targets = ids[1:n * seq_len + 1].reshape(n, seq_len)
    return inputs, targets


def unigram_perplexity(train: np.ndarray, test: np.ndarray, vocab_size: int) -> float:
    """``exp`` of the cross-entropy of ``test`` under the training text's character
    frequencies (add-one smoothed, so a character unseen in training is finite)."""
    counts = np.bincount(train, minlength=vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(np.exp(-log_p[test].mean()))


class Positions(mg.Layer[tuple[int, ...]]):
    """Adds a learned vector per position: ``y[:, t] = x[:, t] + P[t]`` (attention itself
    is blind to order; the causal mask only hides the future). ``dL/dP[t] = Σ_n G[n, t]``,
    ``dL/dx = G``. Shapes: ``(N, T, E) -> (N, T, E)`` for ``T <= max_len``."""

    def __init__(self, max_len: int, dim: int, *, rng: Any = None, dtype: Any = F32) -> None:
        generator = np.random.default_rng(rng)
        self.weight = mg.Parameter(generator.normal(0, 0.02, (max_len, dim)).astype(dtype),
                                   "weight")

    @override
    def forward(self, x: mg.Array) -> mg.Array:
        x = as_batch(self, x, shape=("batch", "T", self.weight.shape[1]), like=self.weight.data)
        t = x.shape[1]
        if t > self.weight.shape[0]:
            raise ValueError(f"{self!r}: sequences of at most {self.weight.shape[0]} "
                             f"positions, got {t}")
        self.cache = tuple(x.shape)
        y: mg.Array = x + self.weight.data[:t]
        return y

    @override
    def backward(self, grad_out: mg.Array) -> mg.Array:
        shape = self.saved()
        g = as_grad(self, grad_out, shape, self.weight.dtype)
        self.weight.grad[:shape[1]] += g.sum(axis=0)
        return g

    # The export hooks (docs/interop.md): how a layer of one's own leaves minigrad.

    def to_onnx(self, ctx: Any, inputs: list[str]) -> str:
        """``x + P[:T]``, ``T`` read from the input's shape: any length the model takes."""
        (x,) = inputs
        length = ctx.node("Shape", [x], start=1, end=2)  # [T]
        first_rows = ctx.node("Slice", [ctx.parameter(self.weight), ctx.ints([0], "starts"),
                                        length, ctx.ints([0], "axes")])
        name: str = ctx.node("Add", [x, first_rows])
        return name

    def to_torch(self, convert: Any) -> Any:
        """A ``torch.nn.Module`` computing ``x + P[:T]``, its ``weight`` a copy of ``P``."""
        return torch_positions()(self.weight.data)

    def from_torch_state(self, state: dict[str, mg.Array]) -> dict[str, mg.Array]:
        """The torch module keeps this layer's key and layout."""
        return {"weight": state["weight"]}


@functools.cache
def torch_positions() -> type:
    """The PyTorch twin of `Positions` (defined on first use: torch is optional here)."""
    import torch

    class TorchPositions(torch.nn.Module):
        def __init__(self, weight: mg.Array) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.tensor(weight))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.weight[:x.shape[1]]

    return TorchPositions


def transformer_block(e: int, heads: int, rng: np.random.Generator) -> mg.Graph:
    """Pre-norm causal block: LayerNorm -> attention -> Add; LayerNorm -> MLP -> Add."""
    return mg.Graph({
        "norm1": (mg.LayerNorm(e, dtype=F32), "input"),
        "attn": (mg.MultiHeadAttention(e, heads, causal=True, rng=rng, dtype=F32), "norm1"),
        "res1": (mg.Add(), ("input", "attn")),
        "norm2": (mg.LayerNorm(e, dtype=F32), "res1"),
        "up": (mg.Dense(e, 4 * e, bias=True, rng=rng, dtype=F32), "norm2"),
        "gelu": (mg.GELU(), "up"),
        "down": (mg.Dense(4 * e, e, bias=True, rng=rng, dtype=F32), "gelu"),
        "res2": (mg.Add(), ("res1", "down")),
    })


def build_model(config: Config, vocab_size: int) -> mg.Sequential:
    rng = np.random.default_rng(config.seed)
    e = config.embed
    embedding = mg.Embedding(vocab_size, e, init=mg.init.normal(0.1), rng=rng, dtype=F32)
    if config.model == "lstm":
        return mg.Sequential(
            embedding,
            mg.LSTM(e, config.hidden, num_layers=config.layers, dropout=config.dropout,
                    rng=rng, dtype=F32),
            mg.Dense(config.hidden, vocab_size, bias=True, rng=rng, dtype=F32),
        )
    if config.model == "transformer":
        return mg.Sequential(
            embedding,
            Positions(config.seq_len, e, rng=rng),
            *(transformer_block(e, config.heads, rng) for _ in range(config.blocks)),
            mg.LayerNorm(e, dtype=F32),
            mg.Dense(e, vocab_size, bias=True, rng=rng, dtype=F32),
        )
    raise ValueError(f"char_lm: model must be 'lstm' or 'transformer', got {config.model!r}")


class PrintPerplexity(mg.Callback):
    """After each epoch: loss and perplexity ``exp(loss)``, training and validation."""

    def __init__(self, baseline: float) -> None:
        self.baseline = baseline
        self.start = time.perf_counter()

    @override
    def on_epoch_end(self, epoch: int, logs: Any) -> bool:
        print(f"epoch {epoch + 1}: loss {logs['loss']:.3f} (perplexity "
              f"{math.exp(logs['loss']):.2f}), validation loss {logs['val_loss']:.3f} "
              f"(perplexity {math.exp(logs['val_loss']):.2f}; unigram {self.baseline:.2f}), "
              f"{time.perf_counter() - self.start:.0f} s", flush=True)
        return False


def sample(model: mg.Sequential, vocab: Vocabulary, prompt: str, length: int,
           context: int, rng: np.random.Generator, temperature: float = 0.8) -> str:
    """``prompt`` continued by ``length`` characters, each drawn from the model's
    softmax (at ``temperature``) given the last ``context`` characters."""
    ids = list(vocab.encode(prompt))
    with model.mode(training=False):
        for _ in range(length):
            logits = model(np.array([ids[-context:]]))[0, -1].astype(np.float64)
            p = np.exp((logits - logits.max()) / temperature)
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return vocab.decode(np.array(ids))


def main(config: Config | None = None) -> dict[str, float]:
    """Train, print per-epoch perplexities and a sample; return the final validation
    perplexity and the unigram baseline's."""
    config = config or Config()
    text = load_text()
    vocab = Vocabulary(text)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    if config.chars is not None:
        train_ids = train_ids[:config.chars]
        val_ids = val_ids[:max(config.chars // 9, config.seq_len + 1)]
    X, Y = windows(train_ids, config.seq_len)
    X_val, Y_val = windows(val_ids, config.seq_len)
    baseline = unigram_perplexity(train_ids, Y_val.reshape(-1), len(vocab))
    print(f"{len(text):,} characters, vocabulary {len(vocab)}; training on "
          f"{X.size:,} characters ({len(X)} windows of {config.seq_len}), validating on "
          f"{Y_val.size:,}; unigram perplexity {baseline:.2f}")
    model = build_model(config, len(vocab))
    print(f"{config.model}: {sum(p.size for p in model.parameters()):,} parameters")
    history = mg.fit(
        model, mg.CrossEntropyLoss(), mg.Adam(model.parameters(), lr=config.lr), X, Y,
        epochs=config.epochs, batch_size=config.batch_size, rng=config.seed,
        validation_data=(X_val, Y_val), callbacks=[PrintPerplexity(baseline)],
        progress=config.progress,
    )
    perplexity = math.exp(history.history["val_loss"][-1])
    print(f"validation perplexity {perplexity:.2f} (unigram baseline {baseline:.2f})")
    if config.sample:
        text_out = sample(model, vocab, config.prompt, config.sample, config.seq_len,
                          np.random.default_rng(config.seed))
        print(f"--- sampled from {config.prompt!r} ---\n{text_out}")
    return {"perplexity": perplexity, "unigram": baseline}


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Config()
    parser.add_argument("--model", choices=["lstm", "transformer"], default=defaults.model)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--chars", type=int, default=defaults.chars,
                        help="training characters to use (0: all)")
    parser.add_argument("--seq-len", type=int, default=defaults.seq_len)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--prompt", default=defaults.prompt)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--layers", type=int, default=defaults.layers,
                        help="stacked LSTM layers")
    parser.add_argument("--dropout", type=float, default=defaults.dropout,
                        help="dropout between the LSTM's layers (with --layers 2 or more)")
    args = parser.parse_args(argv)
    return Config(model=args.model, epochs=args.epochs, chars=args.chars or None,
                  seq_len=args.seq_len, batch_size=args.batch_size, lr=args.lr,
                  prompt=args.prompt, seed=args.seed, layers=args.layers,
                  dropout=args.dropout)


if __name__ == "__main__":
    main(parse_args())
