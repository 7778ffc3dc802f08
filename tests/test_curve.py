"""The learning-curve flow on `tiny`, and the whole pipeline on a Chinese fixture."""

import json

import pandas as pd
import pyarrow.parquet as pq

from fewlabel.config import load_config
from flows.curve import curve_flow
from flows.train import train_flow

from .conftest import FIXTURES, TINY


def test_curve_table_has_every_method_at_every_point(prefect_api, data_dir):
    config = load_config(None, [*TINY, "curve.labels_per_class=[2, 4, 64]", "curve.draws=2"])
    summary = curve_flow(config)
    tidy = pq.read_table(summary["table"]).to_pandas()
    assert len(tidy) == 4 * 2 * 2  # methods x points x draws (64 > the 50 per class of tiny: skipped)
    assert summary["skipped"] == ["64"]
    assert set(tidy.groupby("point")["method"].nunique()) == {4}
    assert tidy["labels"].tolist().count(4) == 8 and tidy["labels"].tolist().count(8) == 8
    assert tidy["accuracy"].between(0, 1).all()
    points = {(r["method"], r["n_per_class"]) for r in summary["curve"]}
    assert points == {(m, n) for m in ("pretrained", "no_pretraining", "tfidf_lr", "majority") for n in (2, 4)}
    for r in summary["curve"]:
        assert r["ci_low"] <= r["mean"] <= r["ci_high"] and r["draws"] == 2
    png = open(summary["plot"], "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    assert matplotlib.image.imread(summary["plot"]).shape[2] in (3, 4)
    again = curve_flow(config)
    assert set(again["stages"].values()) == {"Cached"}  # pretraining ran once per sweep, now nothing runs


def test_curve_points_are_seeded_and_never_see_test_labels(prefect_api, data_dir):
    config = load_config(None, [*TINY, "curve.labels_per_class=[2]", "curve.draws=3"])
    first = pq.read_table(curve_flow(config)["table"]).to_pandas()
    other = load_config(None, [*TINY, "curve.labels_per_class=[2]", "curve.draws=3", "curve.seed=1"])
    second = pq.read_table(curve_flow(other)["table"]).to_pandas()
    assert not first["accuracy"].equals(second["accuracy"])  # another seed draws other labels
    assert (first[first["method"] == "majority"]["accuracy"] == 0.5).all()  # balanced draws, balanced test


def test_chinese_fixture_end_to_end(prefect_api, data_dir):
    config = load_config(None, [
        "data.source=files", f"data.labeled_path={FIXTURES / 'zh' / 'labeled.csv'}",
        f"data.unlabeled_path={FIXTURES / 'zh' / 'unlabeled.txt'}", "data.text_column=评论",
        "data.label_column=情感", "preprocess.language=zh", "preprocess.stopwords=iso",
        "word2vec.vector_size=16", "word2vec.epochs=20", "word2vec.min_count=1", "classifier.max_iter=300",
        "classifier.alpha=0.1", "word2vec.sample=0.001", "vectorize.remove_component=false",
    ])
    summary = train_flow(config)
    assert summary["stats"]["ingest"]["train_per_class"] == {"正面": 10, "负面": 10}
    tokens = pd.read_parquet(f"{summary['artifacts']['preprocess']}/train.parquet")["tokens"]
    assert any("电影" in list(t) for t in tokens)
    assert summary["stats"]["pretrain"]["vocabulary"] > 20
    metrics = json.loads(open(f"{summary['artifacts']['evaluate']}/metrics.json").read())["methods"]
    assert metrics["pretrained"]["accuracy"] >= 0.8  # the fixture's sentiment words are unambiguous
