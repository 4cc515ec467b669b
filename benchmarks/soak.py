"""Soak test (run by hand, not by pytest): memory must stay flat over long training.

    python benchmarks/soak.py [--blog-steps 1000000] [--digits-epochs 200] [--reports 10]

Trains the blog net for 10⁶ full-batch steps, then (when scikit-learn is installed) the
digits MLP for 200 epochs of `mg.fit`, printing the process's resident set size (RSS)
at intervals.
A leak -- e.g. a cache or history that grows per step -- shows up as RSS that climbs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))


def rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def soak(name: str, total: int, reports: int, run_chunk: Callable[[int], None]) -> list[float]:
    """Run ``total`` units in ``reports`` chunks, printing RSS after each; return the RSS list."""
    chunk = max(1, total // reports)
    done, readings = 0, []
    start = time.perf_counter()
    print(f"{name}: {total} units, RSS at start {rss_mib():.1f} MiB")
    while done < total:
        n = min(chunk, total - done)
        run_chunk(n)
        done += n
        readings.append(rss_mib())
        print(f"  {done:>9} done  RSS {readings[-1]:7.1f} MiB  "
              f"({time.perf_counter() - start:6.1f} s)", flush=True)
    growth = readings[-1] - readings[0]
    print(f"{name}: RSS after first chunk {readings[0]:.1f} MiB, at end {readings[-1]:.1f} MiB, "
          f"growth {growth:+.2f} MiB")
    return readings


def soak_blog_net(steps: int, reports: int) -> list[float]:
    import blog_net

    model = blog_net.build_model()
    return soak("blog net steps", steps, reports, lambda n: blog_net.train(model, n))


def soak_digits(epochs: int, reports: int) -> list[float]:
    import digits

    import minigrad as mg

    X_train, _, y_train, _ = digits.load_split()
    model = digits.build_model()
    optimizer = mg.Adam(model.parameters(), lr=digits.LEARNING_RATE)
    loss_fn = mg.CrossEntropyLoss()
    rng = np.random.default_rng(0)

    def run(n: int) -> None:
        mg.fit(model, loss_fn, optimizer, X_train, y_train, epochs=n,
               batch_size=digits.BATCH_SIZE, rng=rng, progress=False)

    return soak("digits MLP epochs", epochs, reports, run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blog-steps", type=int, default=1_000_000)
    parser.add_argument("--digits-epochs", type=int, default=200)
    parser.add_argument("--reports", type=int, default=10)
    args = parser.parse_args()
    soak_blog_net(args.blog_steps, args.reports)
    try:
        import sklearn  # noqa: F401  # the digits data set ships with it
    except ImportError:
        print("digits MLP: skipped (needs scikit-learn: pip install 'minigrad[examples]')")
    else:
        soak_digits(args.digits_epochs, args.reports)


if __name__ == "__main__":
    main()
