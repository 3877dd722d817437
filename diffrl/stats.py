"""Statistics for comparing two policies on the same held-out puzzles.

Success rates get Wilson score intervals; two policies scored on the same puzzles are compared by a
paired test (McNemar's exact test on the discordant puzzles) and a paired bootstrap interval of the
difference in success rate. Small, exact and dependency-free, so a demo's verdict line can say whether a
difference is inside the noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95% standard normal quantile


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95% by default): ``(low, high)`` in [0, 1]."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: no rounding past the rate
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"need two non-empty 1-D outcome arrays of one length, got {a.shape} and {b.shape}")
    return a, b


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value for paired successes ``a`` and ``b`` (bool (N,), same puzzles).

    Only discordant puzzles count: under "no difference" the puzzles that ``a`` solves and ``b`` does not
    are Binomial(discordant, 1/2).
    """
    a, b = _paired(a, b)
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_a, only_b) + 1)) / 2.0**discordant
    return min(1.0, 2.0 * tail)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, samples: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Difference in success rate ``mean(a) - mean(b)`` and its paired bootstrap interval ``(d, low, high)``."""
    a, b = _paired(a, b)
    if samples < 100 or not 0 < confidence < 1:
        raise ValueError(f"need samples >= 100 and 0 < confidence < 1, got {samples}, {confidence}")
    difference = a.astype(np.float64) - b.astype(np.float64)
    draws = np.random.default_rng(seed).integers(0, difference.size, size=(samples, difference.size))
    means = difference[draws].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(difference.mean()), float(low), float(high)


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on the same puzzles: rates, the paired difference with its interval, McNemar p."""

    rate_a: float
    rate_b: float
    difference: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        """True when the 95% interval of the difference excludes 0 and McNemar's p < 0.05."""
        return (self.low > 0 or self.high < 0) and self.p_value < 0.05

    def describe(self, name_a: str, name_b: str) -> str:
        """One plain sentence: which is ahead and whether the difference is inside the noise."""
        span = f"{100 * self.difference:+.1f} points (95% CI {100 * self.low:+.1f} to {100 * self.high:+.1f}, " \
               f"McNemar p={self.p_value:.3g})"
        if not self.significant:
            return f"{name_a} vs {name_b}: {span}: within the noise, no winner"
        return f"{name_a} {'beats' if self.difference > 0 else 'trails'} {name_b}: {span}"


def compare(a: np.ndarray, b: np.ndarray, samples: int = 10_000, seed: int = 0) -> Comparison:
    """Paired comparison of success arrays ``a`` and ``b`` (bool (N,), the same puzzles in the same order)."""
    a, b = _paired(a, b)
    difference, low, high = paired_bootstrap(a, b, samples=samples, seed=seed)
    return Comparison(float(a.mean()), float(b.mean()), difference, low, high, mcnemar_exact(a, b))
