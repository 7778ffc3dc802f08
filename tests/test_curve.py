"""The learning-curve flow on `tiny`, and the whole pipeline on a Chinese fixture."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fewlabel.learning_curve
import fewlabel.model
from fewlabel.config import (
    ClassifierConfig,
    CurveConfig,
    VectorizeConfig,
    Word2VecConfig,
    load_config,
)
from fewlabel.flows.curve import curve_flow
from fewlabel.flows.train import train_flow

from .conftest import FIXTURES, TINY


@pytest.mark.server
def test_curve_table_has_every_method_at_every_point(prefect_api, data_dir):
    # tiny's unlabeled documents are single lines: let them take part in pseudo-labeling anyway
    config = load_config(
        None, [*TINY, "curve.labels_per_class=[2, 4, 64]", "curve.draws=2", "classifier.pseudo_min_lines=1"]
    )
    summary = curve_flow(config)
    tidy = pq.read_table(summary["table"]).to_pandas()
    # methods (label spreading is off by default) x points x draws (64 > the 50 per class of tiny: skipped)
    assert len(tidy) == 6 * 2 * 2
    assert summary["skipped"] == ["64"]
    assert set(tidy.groupby("point")["method"].nunique()) == {6}
    assert tidy["labels"].tolist().count(4) == 12 and tidy["labels"].tolist().count(8) == 12
    assert tidy["accuracy"].between(0, 1).all()
    points = {(r["method"], r["n_per_class"]) for r in summary["curve"]}
    assert points == {(m, n) for m in fewlabel.learning_curve.METHODS if m != "label_spreading" for n in (2, 4)}
    kept = summary["pseudo_kept_draws"]
    assert set(kept) == {"0:2", "0:4", "0:64"} and kept["0:64"] == 0  # the skipped point has no draw
    assert all(0 <= k <= 2 for k in kept.values())
    pretrained, guarded = (
        tidy[tidy["method"] == m].sort_values(["point", "draw"]) for m in ("pretrained", "pretrained_pseudo")
    )
    others = tidy[tidy["method"] == "pretrained_labels_only"].sort_values(["point", "draw"])
    for a, b, c in zip(pretrained["accuracy"], guarded["accuracy"], others["accuracy"], strict=True):
        assert a in (b, c)  # the safeguard's choice: the pseudo-labeled or the labels-only model
    for r in summary["curve"]:  # 2 draws: t-intervals wide enough to leave [0, 1], clipped to it
        assert 0 <= r["ci_low"] <= r["mean"] <= r["ci_high"] <= 1 and r["draws"] == 2
    png = open(summary["plot"], "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert_nothing_cut_off(summary["plot"])
    again = curve_flow(config)
    assert set(again["stages"].values()) == {"Cached"}  # pretraining ran once per sweep, now nothing runs


@pytest.mark.server
def test_curve_points_are_seeded_and_never_see_test_labels(prefect_api, data_dir):
    config = load_config(None, [*TINY, "curve.labels_per_class=[2]", "curve.draws=3"])
    first = pq.read_table(curve_flow(config)["table"]).to_pandas()
    other = load_config(None, [*TINY, "curve.labels_per_class=[2]", "curve.draws=3", "curve.seed=1"])
    second = pq.read_table(curve_flow(other)["table"]).to_pandas()
    assert not first["accuracy"].equals(second["accuracy"])  # another seed draws other labels
    assert (first[first["method"] == "majority"]["accuracy"] == 0.5).all()  # balanced draws, balanced test


def test_per_fit_alpha_choice_ignores_the_test_split(monkeypatch):
    """Both MLP arms choose alpha per fit (same rule), from the drawn training rows only."""
    rng = np.random.default_rng(0)
    words = {"pos": ["good", "great", "fine"], "neg": ["bad", "awful", "dull"]}

    def split(n):
        labels = np.array(["pos", "neg"] * n, dtype=object)
        tokens = [[*rng.choice(words[label], 3), *rng.choice(["film", "plot", "story"], 2)] for label in labels]
        vectors = rng.normal(0, 1, (len(labels), 6)) + np.where(labels == "pos", 1.0, -1.0)[:, None]
        return {
            "labels": labels,
            "tokens": tokens,
            "vectors": vectors,
            "token_array": pa.array(tokens, pa.list_(pa.string())),
        }

    fits = []

    def recording_fit(X, y, config, *progress):
        model, converged, selection = real_fit(X, y, config, *progress)
        fits.append((X.copy(), list(y), model[-1].alpha))
        return model, converged, selection

    real_fit = fewlabel.model.fit_selected
    monkeypatch.setattr(fewlabel.model, "fit_selected", recording_fit)
    no_documents = {"vectors": np.zeros((0, 6)), "documents": np.zeros(0, np.int64)}
    train = split(20)
    idx = fewlabel.learning_curve.draw(train["labels"], 3, np.random.default_rng(1))
    classifier = ClassifierConfig(
        alpha_grid=(0.1, 1.0, 10.0), cv_folds=3, alpha_max_per_row=None, estimator={"max_iter": 100}
    )
    settings = {
        "classifier": classifier,
        "word2vec": Word2VecConfig(vector_size=8, epochs=2, min_count=1, sample=0.001),
        "tfidf_C": CurveConfig().tfidf_C,
        "seed": 7,
        "vectorize": VectorizeConfig(remove_component=False),
    }
    fewlabel.learning_curve.predict_all(train=train, test=split(15), unlabeled=no_documents, idx=idx, **settings)
    other = split(15)
    other["labels"] = other["labels"][::-1].copy()  # other test sentences, vectors and labels
    fewlabel.learning_curve.predict_all(train=train, test=other, unlabeled=no_documents, idx=idx, **settings)
    assert len(fits) == 4  # pretrained and no-pretraining arm, twice
    for first, second in zip(fits[:2], fits[2:], strict=True):
        np.testing.assert_array_equal(first[0], second[0])
        assert first[1:] == second[1:] and first[2] in classifier.alpha_grid
    assert len(fits[0][0]) == len(fits[1][0]) == 6  # the drawn rows only


@pytest.mark.server
def test_chinese_fixture_end_to_end(prefect_api, data_dir):
    config = load_config(
        None,
        [
            "data.source=files",
            f"data.labeled_path={FIXTURES / 'zh' / 'labeled.csv'}",
            f"data.unlabeled_path={FIXTURES / 'zh' / 'unlabeled.txt'}",
            "data.text_column=评论",
            "data.label_column=情感",
            "preprocess.language=zh",
            "preprocess.stopwords=iso",
            "word2vec.vector_size=16",
            "word2vec.epochs=20",
            "word2vec.min_count=1",
            "classifier.estimator.max_iter=300",
            "classifier.estimator.alpha=0.1",
            "word2vec.sample=0.001",
            "vectorize.remove_component=false",
            "classifier.l2_normalize=false",  # toy 16-dim vectors, 20 test sentences: 0.75 with it (one sentence)
        ],
    )
    summary = train_flow(config)
    assert summary["stats"]["ingest"]["train_per_class"] == {"正面": 10, "负面": 10}
    tokens = pd.read_parquet(f"{summary['artifacts']['preprocess']}/train.parquet")["tokens"]
    assert any("电影" in list(t) for t in tokens)
    assert summary["stats"]["pretrain"]["vocabulary"] > 20
    metrics = json.loads(open(f"{summary['artifacts']['evaluate']}/metrics.json").read())["methods"]
    assert metrics["pretrained"]["accuracy"] >= 0.8  # the fixture's sentiment words are unambiguous


@pytest.mark.server
def test_curve_over_splits_pretrains_each_and_reports_their_spread(prefect_api, data_dir):
    config = load_config(
        None, [*TINY, "curve.labels_per_class=[2]", "curve.draws=2", "curve.splits=2", "curve.label_spreading=true"]
    )
    summary = curve_flow(config)
    tidy = pq.read_table(summary["table"]).to_pandas()
    assert sorted(set(tidy["split"])) == [0, 1] and len(tidy[tidy["method"] == "label_spreading"]) == 4
    # each split its own test sentences, so its own scores for the same draws
    first, second = (tidy[(tidy["method"] == "tfidf_lr") & (tidy["split"] == s)]["accuracy"] for s in (0, 1))
    assert not np.array_equal(first.to_numpy(), second.to_numpy())
    record = next(r for r in summary["curve"] if r["method"] == "no_pretraining")
    means = tidy[tidy["method"] == "no_pretraining"].groupby("split")["accuracy"].mean()
    assert record["splits"] == 2 and record["draws"] == 4
    assert record["split_std"] == pytest.approx(means.std(ddof=1))
    assert record["mean"] == pytest.approx(means.mean())


def test_summary_spread_is_over_split_means_and_draws_within_splits():
    rows = pd.DataFrame(
        {
            "method": "m",
            "point": "4",
            "labels": 8,
            "split": [0, 0, 1, 1],
            "draw": [0, 1, 0, 1],
            "accuracy": [0.5, 0.7, 0.8, 0.8],
            "macro_f1": 0.5,
        }
    )
    row = fewlabel.learning_curve.summarize(rows, 2, 0.95).iloc[0]
    assert row["mean"] == pytest.approx(0.7) and row["splits"] == 2 and row["draws"] == 4
    assert row["split_std"] == pytest.approx(np.std([0.6, 0.8], ddof=1))
    assert row["draw_std"] == pytest.approx(np.std([0.5, 0.7], ddof=1) / 2)


def assert_nothing_cut_off(png) -> None:
    """Nothing is drawn on the picture's outer edges: the legend and labels fit inside it."""
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[2] == 3
    for edge in (pixels[:, 0], pixels[:, -1], pixels[0], pixels[-1]):
        assert (edge > 0.99).all()  # white


def test_curve_intervals_stay_in_0_1_and_the_plot_fits_its_legend(tmp_path):
    rows = pd.DataFrame(
        [
            {"method": m, "point": p, "labels": 2 * p, "draw": d, "accuracy": a, "macro_f1": 0.5}
            for m in fewlabel.learning_curve.METHODS
            for p in (2, 8)
            for d, a in enumerate((0.3, 0.95))
        ]
    )
    summary = fewlabel.learning_curve.summarize(rows, 2, 0.95)
    assert (summary["ci_low"] == 0).all() and (summary["ci_high"] == 1).all()  # t(0.975, 1) = 12.7
    fewlabel.learning_curve.plot(summary, tmp_path / "curve.png", "a title", "logistic regression")
    assert_nothing_cut_off(tmp_path / "curve.png")
