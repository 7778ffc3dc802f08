"""The whole training flow on `tiny` under a real Prefect server: states for every caching scenario."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fewlabel import store
from fewlabel.flows.predict import predict_flow
from fewlabel.flows.train import train_flow

from .conftest import TINY_STAGES

pytestmark = pytest.mark.server  # every test here uses a Prefect server

STAGES = list(TINY_STAGES)


def states(summary):
    return [summary["stages"][s] for s in STAGES]


def run(config):
    return train_flow(config)


@pytest.fixture
def first_run(prefect_api, data_dir, tiny_config):
    summary = run(tiny_config())
    assert states(summary) == ["Completed"] * 6
    return summary


def test_rerun_with_nothing_changed_is_all_cached(first_run, tiny_config):
    again = run(tiny_config())
    assert states(again) == ["Cached"] * 6
    assert again["metrics"] == first_run["metrics"]
    assert again["artifacts"] == first_run["artifacts"]


def test_classifier_change_reruns_only_train_and_evaluate(first_run, tiny_config):
    changed = run(tiny_config("classifier.estimator.alpha=0.5"))
    assert states(changed) == ["Cached"] * 4 + ["Completed"] * 2


def test_stopword_change_reruns_preprocess_and_after(first_run, tiny_config):
    changed = run(tiny_config("preprocess.stopwords=english"))
    assert states(changed) == ["Cached"] + ["Completed"] * 5


@pytest.mark.parametrize(
    "stage, name, damage",
    [
        ("pretrain", "vectors.parquet", "delete"),
        ("preprocess", "train.parquet", "truncate"),
        ("train", "pretrained.skops", "alter"),
    ],
)
def test_damaged_artifact_recomputes_that_stage_only(first_run, tiny_config, stage, name, damage):
    path = store.data_dir() / first_run["artifacts"][stage] / name
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:
        path.write_bytes(path.read_bytes()[:-3] + b"zzz")
    again = run(tiny_config())
    expected = ["Completed" if s == stage else "Cached" for s in STAGES]
    assert states(again) == expected  # deterministic rebuild: same bytes, so downstream stays cached
    assert again["metrics"] == first_run["metrics"]


def test_artifact_schemas_are_readable_without_fewlabel(first_run):
    art = {s: store.data_dir() / p for s, p in first_run["artifacts"].items()}
    string = pa.string()
    expect = {
        ("ingest", "train.parquet"): {"text": string, "label": string, "origin": string, "row": pa.int64()},
        ("ingest", "unlabeled.parquet"): {"text": string, "origin": string, "row": pa.int64()},
        ("preprocess", "test.parquet"): {"tokens": pa.list_(string)},
        ("pretrain", "vectors.parquet"): {"token": string, "count": pa.int64(), "vector": pa.list_(pa.float32(), 16)},
        ("vectorize", "train.parquet"): {
            "label": string,
            "pretrained": pa.list_(pa.float32(), 16),
            "no_pretraining": pa.list_(pa.float32(), 16),
        },
        ("evaluate", "metrics.parquet"): {"method": string, "accuracy": pa.float64(), "macro_f1": pa.float64()},
        ("evaluate", "confusion.parquet"): {"method": string, "true": string, "predicted": string, "count": pa.int64()},
    }
    for (stage, name), fields in expect.items():
        schema = pq.read_schema(art[stage] / name)
        for field, kind in fields.items():
            assert schema.field(field).type == kind, (stage, name, field)
    metrics = json.loads((art["evaluate"] / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"pretrained", "no_pretraining", "tfidf_lr", "majority"}
    # the lexical baseline: TF-IDF + LR fitted on preprocess's training tokens, scored on its test tokens
    from fewlabel.lexical import fit_tfidf_lr

    train_tokens = pq.read_table(art["preprocess"] / "train.parquet", columns=["tokens", "label"])
    test_tokens = pq.read_table(art["preprocess"] / "test.parquet", columns=["tokens"])["tokens"].to_pylist()
    lexical = fit_tfidf_lr(train_tokens["tokens"].to_pylist(), train_tokens["label"].to_pylist(), 1.0)
    evaluated = pq.read_table(art["evaluate"] / "predictions.parquet")
    assert evaluated["tfidf_lr"].to_pylist() == list(lexical.predict(test_tokens))
    gain = metrics["pretrained_vs_lexical"]["accuracy_gain"]
    assert gain == pytest.approx(
        metrics["methods"]["pretrained"]["accuracy"] - metrics["methods"]["tfidf_lr"]["accuracy"]
    )
    assert metrics["methods"]["majority"]["accuracy"] == pytest.approx(0.5)  # tiny is balanced
    meta = json.loads((art["train"] / "metadata.json").read_text())
    assert meta["classes"] == ["negative", "positive"]
    assert meta["inputs"]["vectorize"] == json.loads((art["vectorize"] / "manifest.json").read_text())["sha256"]
    report = (art["evaluate"] / "report.md").read_text()
    assert "Pretraining changed test accuracy" in report and "TF-IDF + logistic regression" in report
    ingest_stats = first_run["stats"]["ingest"]
    assert ingest_stats["train_rows"] + ingest_stats["test_rows"] == 200


def test_predict_flow_classifies_every_row(first_run, tmp_path):
    texts = ["a wonderful , moving film", "", "dull and tedious", "zzzz qqqq"]
    source = tmp_path / "new.txt"
    source.write_text("\n".join(texts) + "\n")
    result = predict_flow(input_path=str(source), output_name="pred")
    out = store.data_dir() / "predictions" / "pred.parquet"
    assert result["output"] == str(out)
    table = pq.read_table(out)
    assert result["rows"] == table.num_rows == 3  # the blank line is not a text
    assert table["row"].to_pylist() == [1, 3, 4]
    assert set(table["predicted"].to_pylist()) <= {"negative", "positive"}
    total = pa.compute.add(table["proba_negative"], table["proba_positive"]).to_numpy()
    assert abs(total - 1).max() < 1e-5
    known = table["known_words"].to_pylist()
    assert known[2] == 0 and known[0] >= 3  # "zzzz qqqq": no known word, flagged; the first: its words
    assert result["no_known_word"] == 1 and result["blank_lines"] == 1


@pytest.mark.parametrize("name", ["../escape", "/tmp/elsewhere", "sub/dir", ".hidden"])
def test_predict_never_writes_outside_the_data_folder(first_run, tmp_path, name):
    from fewlabel.errors import UserError

    source = tmp_path / "new.txt"
    source.write_text("a film\n")
    with pytest.raises(UserError, match="plain file name"):
        predict_flow(input_path=str(source), output_name=name)
    assert not (tmp_path / "escape.parquet").exists() and not (tmp_path.parent / "escape.parquet").exists()


def test_config_paths_only_ever_read(prefect_api, data_dir, tmp_path):
    """Input paths anywhere are read; every file the pipeline writes is inside the data folder."""
    from fewlabel.config import load_config

    from .conftest import labeled_csv, unlabeled_txt

    outside = tmp_path / "outside"
    lab, unl = labeled_csv(outside / "l.csv"), unlabeled_txt(outside / "u.txt")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    train_flow(
        load_config(
            None,
            [
                "data.source=files",
                f"data.labeled_path={lab}",
                f"data.unlabeled_path={unl}",
                "word2vec.vector_size=8",
                "word2vec.epochs=1",
            ],
        )
    )
    written = [p for p in tmp_path.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns]
    assert written and all(p.is_relative_to(data_dir) for p in written)


@pytest.mark.parametrize(
    "vectorize", [["vectorize.weighting=sif", "vectorize.remove_component=true"], ["vectorize.pooling=mean_max_min"]]
)
def test_predict_builds_features_like_the_vectorize_stage(prefect_api, data_dir, tiny_config, tmp_path, vectorize):
    """On the test sentences, predict must reproduce the evaluate stage's predictions exactly."""
    summary = train_flow(tiny_config(*vectorize))
    evaluated = pq.read_table(store.data_dir() / summary["artifacts"]["evaluate"] / "predictions.parquet")
    test = pq.read_table(store.data_dir() / summary["artifacts"]["ingest"] / "test.parquet")
    source = tmp_path / "test.parquet"
    pq.write_table(test.select(["text"]), source)
    predicted = pq.read_table(predict_flow(input_path=str(source), output_name="again")["output"])
    assert predicted["predicted"].to_pylist() == evaluated["pretrained"].to_pylist()


def test_core_log_lines_reach_the_run_logs_in_the_ui(first_run):
    """The core logs with the standard library (no Prefect in it); its lines still show on the run's page."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    flt = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[first_run["flow_run_id"]]))
    names, fits = set(), []
    for _ in range(60):  # logs travel to the API in the background
        with get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=flt)
        names = {log.name for log in logs}
        fits = [log.message for log in logs if log.name == "fewlabel.model" and " epochs, " in log.message]
        if {"fewlabel.store", "fewlabel.word2vec", "fewlabel.model"} <= names and len(fits) >= 2:
            break
        time.sleep(0.5)
    assert {"fewlabel.store", "fewlabel.word2vec", "fewlabel.model"} <= names, names
    # the train stage's progress: every MLP fit, by arm (issue 28)
    assert any(m.startswith("train: pretrained arm: labels-only MLP on ") for m in fits), fits
    assert any(m.startswith("train: no_pretraining arm: labels-only MLP on ") for m in fits), fits
