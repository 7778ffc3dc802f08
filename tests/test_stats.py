import numpy as np
import pytest

from fewlabel.stats import bootstrap_interval, mcnemar_exact, mean_interval


def test_mcnemar_against_hand_computed_binomial():
    # a right and b wrong on 3 items, the reverse on 0: p = 2 * 0.5**3 = 0.25
    a = np.array([1, 1, 1, 1, 0], bool)
    b = np.array([0, 0, 0, 1, 0], bool)
    assert mcnemar_exact(a, b) == pytest.approx(0.25)
    assert mcnemar_exact(a, a) == 1.0


def test_mean_interval_against_hand_computed_t_interval():
    mean, std, low, high = mean_interval(np.array([0.5, 0.6, 0.7]))
    # std = 0.1, t(0.975, 2) = 4.302653, half-width = 4.302653 * 0.1 / sqrt(3) = 0.248414
    assert (mean, std) == pytest.approx((0.6, 0.1))
    assert (low, high) == pytest.approx((0.6 - 0.248414, 0.6 + 0.248414), abs=1e-6)
    assert mean_interval(np.array([0.7])) == (0.7, 0.0, 0.7, 0.7)


def test_bootstrap_interval_covers_mean_and_is_seeded():
    correct = np.array([1.0] * 70 + [0.0] * 30)
    low, high = bootstrap_interval(correct, 2000, 0.95, seed=1)
    assert low < 0.7 < high
    # normal approximation: 0.7 +- 1.96 * sqrt(0.21 / 100) = 0.7 +- 0.0898
    assert low == pytest.approx(0.61, abs=0.02) and high == pytest.approx(0.79, abs=0.02)
    assert bootstrap_interval(correct, 2000, 0.95, seed=1) == (low, high)
    assert bootstrap_interval(np.array([1.0, 1.0]), 100, 0.95, 0) == (1.0, 1.0)


def test_bootstrap_in_blocks_equals_one_big_draw():
    correct = (np.random.default_rng(3).random(5000) > 0.4).astype(float)  # 5000 items: ~800 per block
    rng = np.random.default_rng(7)
    means = correct[rng.integers(0, 5000, size=(2000, 5000))].mean(axis=1)
    assert bootstrap_interval(correct, 2000, 0.9, seed=7) == tuple(np.quantile(means, [0.05, 0.95]))
