"""Query strategies (fewlabel.selection) and the simulation's bookkeeping (fewlabel.simulation)."""

import numpy as np
import pandas as pd
import pytest

from fewlabel.errors import UserError
from fewlabel.selection import STRATEGIES, density, margins, select
from fewlabel.simulation import budgets, labels_to_match, markdown, summarize


def blobs(rng, centres=4, per=50, dim=8, spread=0.05):
    means = rng.normal(size=(centres, dim)) * 3
    return np.vstack([m + spread * rng.normal(size=(per, dim)) for m in means]), np.repeat(np.arange(centres), per)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_returns_n_distinct_rows_and_is_seeded(strategy):
    rng = np.random.default_rng(0)
    X, _ = blobs(rng)
    proba = rng.dirichlet([1, 1], size=len(X))
    a = select(strategy, X, proba, 12, seed=3)
    assert len(a) == 12 and len(set(a.tolist())) == 12 and a.min() >= 0 and a.max() < len(X)
    assert np.array_equal(a, select(strategy, X, proba, 12, seed=3))
    assert len(select(strategy, X[:5], proba[:5], 12, seed=3)) == 5  # a small pool: all of it


def test_margin_picks_the_least_confident_rows():
    proba = np.array([[0.99, 0.01], [0.5, 0.5], [0.8, 0.2], [0.45, 0.55], [0.1, 0.9]])
    assert np.allclose(margins(proba), [0.98, 0.0, 0.6, 0.1, 0.8])
    assert set(select("margin", np.eye(5), proba, 2).tolist()) == {1, 3}


def test_margin_diverse_never_takes_two_near_duplicates():
    rng = np.random.default_rng(1)
    X, group = blobs(rng, centres=4, per=30)
    # every row of group 0 is the most uncertain: plain margin takes only group 0
    proba = np.where(group[:, None] == 0, 0.5, np.array([0.9, 0.1]))
    proba = proba + rng.uniform(0, 0.01, size=proba.shape) * (group[:, None] == 0)
    assert set(group[select("margin", X, proba, 4)]) == {0}
    picks = select("margin_diverse", X, proba, 4, candidates=40)
    assert len(set(group[picks])) == 4


def test_clusters_takes_one_representative_per_region():
    X, group = blobs(np.random.default_rng(2), centres=5, per=40)
    picks = select("clusters", X, None, 5, seed=0)
    assert sorted(group[picks].tolist()) == [0, 1, 2, 3, 4]


def test_density_margin_prefers_typical_rows_to_outliers():
    rng = np.random.default_rng(3)
    X, _ = blobs(rng, centres=1, per=60, dim=6, spread=0.1)
    outliers = rng.normal(size=(5, 6)) * 10
    X = np.vstack([X, outliers])
    assert density(X, rng)[-5:].max() < density(X, rng)[:60].min()
    proba = np.tile([0.5, 0.5], (len(X), 1))  # equally uncertain everywhere
    assert select("density_margin", X, proba, 5).max() < 60


def test_unknown_strategy_and_missing_probabilities_are_refused():
    with pytest.raises(UserError, match="not a strategy; choose one of random"):
        select("best", np.eye(3), None, 1)
    with pytest.raises(ValueError, match="needs the model's probabilities"):
        select("margin", np.eye(3), None, 1)


def test_budgets_step_by_k_per_class_up_to_the_stop():
    assert budgets(2, 2, 4, 64) == [4, 12, 20, 28, 36, 44, 52, 60, 68, 76, 84, 92, 100, 108, 116, 124, 128]
    assert budgets(3, 2, 4, 10) == [6, 18, 30]


def test_summary_gains_are_paired_with_random_on_the_same_seed():
    rows = pd.DataFrame(
        [
            {"strategy": s, "seed": seed, "labels": n, "labels_per_class": n / 2, "accuracy": acc}
            for s, shift in (("random", 0.0), ("margin", 0.12))
            for seed in range(3)
            for n, acc in ((4, 0.5 + 0.01 * seed + shift), (8, 0.6 + 0.01 * seed + shift))
        ]
    )
    summary = summarize(rows)
    margin = summary[summary["strategy"] == "margin"]
    assert np.allclose(margin["gain_over_random"], 0.12)
    assert labels_to_match(summary, "margin", 4.0) == 2.0 and labels_to_match(summary, "random", 4.0) == 4.0
    table = markdown(summary, 3)
    assert "| margin |" in table and "(+12.0)" in table
