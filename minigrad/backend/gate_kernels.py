"""The recurrent cells' gate nonlinearities, in place: `gates_into`.

Part of `minigrad.backend`, which re-exports it. A recurrent step applies ``σ`` (and the
LSTM ``tanh`` on its candidate block) to every pre-activation of the step, 50 times a
sequence, on a few thousand values each; on NumPy that is the step's costliest
element-wise work, and this kernel does it in seven ufunc passes over contiguous blocks,
written into the gate buffer (``out=``), no temporary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.backend.namespaces import namespace, sigmoid


def gates_into(target: Any, key: Any, z: Any, tanh_rows: slice | None = None) -> None:
    """``target[key] = σ(z)`` -- except ``tanh(z)`` on the rows ``tanh_rows`` of the first
    axis (the LSTM's candidate block ``g``) -- for the pre-activations ``z`` of a
    recurrent step, one row per unit (``(G·H, N)``); ``z`` may be ``target[key]``
    itself (in place).

    NumPy, in ``target[key]``'s memory::

        σ(z) = 1 / (1 + e^(−z))            tanh z = 2 σ(2z) − 1

    -- one pass each for ``−z`` (then ``× 2`` on the tanh block), ``exp``, ``+ 1``,
    ``1 / ·``, then ``× 2`` and ``− 1`` on the tanh block: no temporary and no ``tanh``.
    Why: without AVX-512, NumPy's float32 ``tanh`` is scalar code, twice its ``exp``
    (2.6 against 1.3 ns a value, AMD EPYC, AVX2), so the LSTM's gates of a step (512 ×
    32, float32) took 57 µs as ``(1 + tanh(z/2))/2`` and take 42 µs so.

    Stable: where ``−z`` exceeds ``log`` of the largest float, ``e^(−z)`` is ``inf`` and
    ``1/(1 + inf) = 0`` (σ is subnormal there), the overflow warning silenced; NaN stays
    NaN. ``σ`` keeps its relative accuracy everywhere (a few ulp); the tanh block has an
    absolute error of a few ulp of 1 (``2σ − 1`` cancels near 0) -- no worse than the
    sum ``f ⊙ c + i ⊙ g`` it feeds rounds to.

    Other libraries: `sigmoid` (``torch.sigmoid``; the standard's stable form) and the
    standard's ``tanh``, assigned to ``target[key]`` (the standard has no ``out=``).
    """
    if type(target) is np.ndarray:
        view = target[key]
        block = None if tanh_rows is None else view[tanh_rows]
        with np.errstate(over="ignore"):  # −2z, e^(−z) = inf give σ = 0: see above
            np.negative(z, out=view)
            if block is not None:
                np.multiply(block, 2.0, out=block)
            np.exp(view, out=view)
        np.add(view, 1.0, out=view)
        np.divide(1.0, view, out=view)
        if block is not None:
            np.multiply(block, 2.0, out=block)
            np.subtract(block, 1.0, out=block)
        return
    xp = namespace(target)
    activated = sigmoid(z)
    if tanh_rows is not None:
        start, stop = tanh_rows.start, tanh_rows.stop
        activated = xp.concat([activated[:start, ...], xp.tanh(z[start:stop, ...]),
                               activated[stop:, ...]], axis=0)
    target[key] = activated
