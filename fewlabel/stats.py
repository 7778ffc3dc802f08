"""Honest statistics for small test sets: bootstrap intervals and an exact paired test."""

from __future__ import annotations

import numpy as np
from scipy import stats


def bootstrap_interval(correct: np.ndarray, samples: int, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of a 0/1 (or difference) vector."""
    if samples == 0 or len(correct) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    n = len(correct)
    rows = max(1, (1 << 22) // n)  # resample in blocks of ~4M indices: bounded memory, same random stream
    means = np.concatenate(
        [
            correct[rng.integers(0, n, size=(min(rows, samples - start), n))].mean(axis=1)
            for start in range(0, samples, rows)
        ]
    )
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Two-sided exact McNemar p-value: do two classifiers on the same items differ in accuracy?"""
    only_a = int(np.sum(a_correct & ~b_correct))
    only_b = int(np.sum(~a_correct & b_correct))
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)


def mean_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample std, t-interval low, high) over repeated draws."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, 0.0, mean, mean
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, len(values) - 1) * std / np.sqrt(len(values)))
    return mean, std, mean - half, mean + half
