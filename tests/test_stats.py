"""diffrl.stats against closed forms and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from diffrl.stats import compare, mcnemar_exact, paired_bootstrap, wilson_interval


def test_wilson_interval_matches_the_closed_form() -> None:
    low, high = wilson_interval(5, 10)
    z = 1.959963984540054
    half = z * math.sqrt(0.25 / 10 + z * z / 400) / (1 + z * z / 10)
    assert low == pytest.approx(0.5 - half) and high == pytest.approx(0.5 + half)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 10)[1] == pytest.approx(z * z / (10 + z * z))  # the zero-success upper bound


@given(st.integers(1, 300), st.data())
def test_wilson_interval_contains_the_rate(trials: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(0, trials))
    low, high = wilson_interval(successes, trials)
    assert 0.0 <= low <= successes / trials <= high <= 1.0


def test_mcnemar_matches_the_binomial_tail() -> None:
    a = np.array([True] * 10 + [False] * 2 + [True] * 30 + [False] * 8)
    b = np.array([False] * 10 + [True] * 2 + [True] * 30 + [False] * 8)
    assert mcnemar_exact(a, b) == pytest.approx(2 * (1 + 12 + 66) / 2**12)
    assert mcnemar_exact(a, a) == 1.0
    assert mcnemar_exact(b, a) == mcnemar_exact(a, b)


def test_paired_bootstrap_is_seeded_and_brackets_the_difference() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random(300) < 0.5, rng.random(300) < 0.3
    difference, low, high = paired_bootstrap(a, b, seed=3)
    assert difference == pytest.approx(a.mean() - b.mean())
    assert low < difference < high
    assert paired_bootstrap(a, b, seed=3) == (difference, low, high)


def test_compare_calls_small_differences_noise() -> None:
    same = np.array([True, False] * 50)
    nearly = same.copy()
    nearly[:2] = ~nearly[:2]
    assert "within the noise" in compare(same, nearly).describe("GRPO", "SFT")
    better = np.ones(100, dtype=bool)
    verdict = compare(better, same)
    assert verdict.significant and "GRPO beats SFT" in verdict.describe("GRPO", "SFT")


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(3, 2)
    with pytest.raises(ValueError, match="one length"):
        mcnemar_exact(np.ones(3, bool), np.ones(4, bool))
