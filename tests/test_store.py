import json

import pyarrow as pa
import pytest

from fewlabel import store


def build_ok(out):
    store.write_table(out, "train.parquet", pa.table({"x": [1, 2, 3]}))
    return {"rows": 3}


def test_materialize_writes_manifest_and_reads_back(data_dir):
    ref = store.materialize("ingest", "fewlabel-ingest-abc123", build_ok)
    assert ref["stats"] == {"rows": 3}
    assert store.read_table(ref, "train.parquet")["x"].to_pylist() == [1, 2, 3]
    manifest = json.loads((data_dir / ref["path"] / "manifest.json").read_text())
    assert manifest["files"]["train.parquet"] == store.sha256_file(data_dir / ref["path"] / "train.parquet")


def test_only_the_files_a_stage_declares_are_read_and_written(data_dir):
    ref = store.materialize("ingest", "fewlabel-ingest-abc123", build_ok)
    declared = r"stage ingest has no file points.parquet: the catalog declares \['test.parquet', 'train.parquet',"
    for read in (store.read_table, store.read_json, store.read_bytes, store.parquet_rows, store.artifact_path):
        with pytest.raises(RuntimeError, match=declared):
            read(ref, "points.parquet")
    with pytest.raises(RuntimeError, match=declared):
        store.materialize("ingest", "fewlabel-ingest-other", lambda out: store.write_json(out, "points.parquet", {}))
    with pytest.raises(RuntimeError, match="not an artifact folder being built"):
        store.write_table(data_dir, "train.parquet", pa.table({"x": [1]}))


def test_existing_intact_artifact_is_reused(data_dir):
    store.materialize("ingest", "fewlabel-ingest-k", build_ok)
    calls = []
    store.materialize("ingest", "fewlabel-ingest-k", lambda out: calls.append(1) or build_ok(out))
    assert calls == []


def test_failed_build_leaves_nothing(data_dir):
    def boom(out):
        build_ok(out)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.materialize("ingest", "fewlabel-ingest-k", boom)
    leftovers = [p for p in (data_dir / "raw").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    assert store.load_ref("ingest", "fewlabel-ingest-k") is None


@pytest.mark.parametrize("damage", ["truncate", "alter", "delete", "manifest"])
def test_damaged_artifact_is_detected_and_rebuilt(data_dir, damage):
    ref = store.materialize("ingest", "fewlabel-ingest-k", build_ok)
    path = data_dir / ref["path"] / "train.parquet"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:10])
    elif damage == "alter":
        path.write_bytes(path.read_bytes()[:-1] + b"x")
    elif damage == "delete":
        path.unlink()
    else:
        (data_dir / ref["path"] / "manifest.json").write_text("{not json")
    assert store.load_ref("ingest", "fewlabel-ingest-k") is None
    if damage != "manifest":
        with pytest.raises(store.CorruptArtifact, match="train.parquet"):
            store.read_table(ref, "train.parquet")
    rebuilt = store.materialize("ingest", "fewlabel-ingest-k", build_ok)
    assert store.read_table(rebuilt, "train.parquet").num_rows == 3


def test_canonical_hash_ignores_key_order():
    assert store.canonical_hash({"a": 1, "b": [1, 2]}) == store.canonical_hash({"b": [1, 2], "a": 1})
    assert store.canonical_hash({"a": 1}) != store.canonical_hash({"a": 2})


def test_a_stage_code_version_covers_the_project_modules_it_uses():
    from fewlabel.orchestration.stage import project_imports

    assert project_imports("fewlabel.tasks.ingest") >= {"fewlabel.tasks.ingest", "fewlabel.readers", "fewlabel.store"}
    assert "fewlabel.text" in project_imports("fewlabel.tasks.preprocess")
    assert "fewlabel.readers" not in project_imports("fewlabel.tasks.train")
    evaluate = project_imports("fewlabel.tasks.evaluate")
    assert "fewlabel.config" not in evaluate  # config values are hashed as inputs
    assert not any(m.startswith("fewlabel.orchestration") for m in evaluate)  # machinery, not computation
    assert "fewlabel.predictor" not in evaluate and "fewlabel.word2vec" not in evaluate


def test_code_version_is_safe_to_compute_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    from fewlabel.orchestration import stage

    stage._code_version.cache_clear()
    modules = [
        "fewlabel.tasks.curve",
        "fewlabel.tasks.evaluate",
        "fewlabel.tasks.ingest",
        "fewlabel.tasks.preprocess",
    ] * 8
    with ThreadPoolExecutor(16) as pool:
        versions = list(pool.map(stage.code_version, modules))
    assert len(set(versions)) == 4
