"""A sequence tagger that needs the future: a bidirectional LSTM against a one-way one.

The task (synthetic, made here): sequences of ``T`` tokens from {0, 1, 2}; the tag of
position ``t`` is ``max(x[t−1], x[t+1])``, the larger of its two neighbours (a missing
one counts as 0). A forward-only recurrence has not read ``x[t+1]`` when it tags
position ``t``: knowing ``x[t−1]`` alone, the best it can do is right 2/3 of the time
(always when ``x[t−1] = 2``, 2/3 when it is 1, 1/3 when 0). A bidirectional one reads
the sequence both ways and concatenates the two states at every position -- the forward
direction knows ``x[t−1]``, the reverse one ``x[t+1]`` -- and tags all of them.

The model: Embedding -> LSTM(bidirectional=True) -> Dense, scored per position by
`mg.CrossEntropyLoss` on logits ``(N, T, 3)``; trained with `mg.fit` and Adam. The
one-way model is the same with ``bidirectional=False`` (half the Dense input).

Run ``python examples/bidirectional_tagger.py [--epochs N]``; importing it trains
nothing. Measured (one BLAS thread, the defaults): 1.8 s of CPU for both; held-out tag
accuracy 1.00 bidirectional, 0.66 one-way -- the bound above.
"""

from __future__ import annotations

import argparse

import numpy as np

import minigrad as mg

F32 = np.float32
TOKENS = 3


def make_data(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Token ids ``(n, length)`` and their tags ``max(x[t−1], x[t+1])``."""
    x = rng.integers(0, TOKENS, (n, length))
    padded = np.pad(x, ((0, 0), (1, 1)))  # the missing neighbours: 0
    return x, np.maximum(padded[:, :-2], padded[:, 2:])


def build_model(bidirectional: bool, seed: int, embed: int = 8, hidden: int = 24
                ) -> mg.Sequential:
    rng = np.random.default_rng(seed)
    directions = 2 if bidirectional else 1
    return mg.Sequential(
        mg.Embedding(TOKENS, embed, rng=rng, dtype=F32),
        mg.LSTM(embed, hidden, bidirectional=bidirectional, rng=rng, dtype=F32),
        mg.Dense(directions * hidden, TOKENS, bias=True, rng=rng, dtype=F32),
    )


def accuracy(model: mg.Sequential, x: np.ndarray, tags: np.ndarray) -> float:
    return float(np.mean(mg.predict(model, x).argmax(axis=-1) == tags))


def main(epochs: int = 8, seed: int = 0, length: int = 12) -> dict[str, float]:
    """Train both taggers; print and return their held-out accuracies."""
    rng = np.random.default_rng(seed)
    x, tags = make_data(2000, length, rng)
    x_test, tags_test = make_data(500, length, rng)
    results = {}
    for name, bidirectional in (("bidirectional", True), ("one-way", False)):
        model = build_model(bidirectional, seed)
        mg.fit(model, mg.CrossEntropyLoss(), mg.Adam(model.parameters(), lr=1e-2), x, tags,
               epochs=epochs, batch_size=64, rng=seed, progress=False)
        results[name] = accuracy(model, x_test, tags_test)
        print(f"{name:>13} LSTM: held-out tag accuracy {results[name]:.3f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.epochs, args.seed)
