"""What a stage parses is exactly what its cache key hashed (issue 29, point 1).

A stage's input files are read once, hashed from the bytes read, and parsed from those same bytes
(:mod:`fewlabel.inputs`); a file the build reads again (or for the first time) is checked against the
hash its key was computed from. The end-to-end test swaps the labeled file by atomic renames, between two
versions with every label flipped, while real `fewlabel run` processes read it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fewlabel import inputs, store

from .conftest import unlabeled_txt, write

WORDS = {"good": "great wonderful fine lovely", "bad": "awful terrible poor dull"}


def labeled_versions(n: int = 12) -> tuple[bytes, bytes]:
    """(a labeled CSV, the same texts with every label flipped)."""
    texts = [(f"the film was {WORDS[label]} number {i}", label) for label in WORDS for i in range(n)]
    flip = {"good": "bad", "bad": "good"}

    def csv(pairs):
        return ("text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in pairs)).encode()

    return csv(texts), csv([(t, flip[lab]) for t, lab in texts])


def labels_of(data: bytes) -> dict[str, str]:
    lines = data.decode().splitlines()[1:]
    return {line.rsplit(",", 1)[0].strip('"'): line.rsplit(",", 1)[1] for line in lines}


def fewlabel(*args, cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fewlabel.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "FEWLABEL_DATA_DIR": str(cwd / "data"), **env},
        timeout=600,
    )


def sets(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--set", pair)]


def ingest_artifacts(data: Path) -> list[Path]:
    return sorted(p for p in (data / "raw").glob("ingest-*") if (p / "manifest.json").exists())


def check_filed_under_what_it_holds(folder: Path, labeled: Path, versions: dict[str, dict[str, str]]) -> str:
    """The ingest artifact's recorded hash of the labeled file is one of the two versions, and every
    labeled row it holds has that version's label; the version's hash."""
    manifest = json.loads((folder / "manifest.json").read_text())
    recorded = manifest["lineage"]["inputs"][str(labeled)]
    assert recorded in versions, (folder, recorded)
    expected = versions[recorded]
    for name in ("train.parquet", "test.parquet"):
        table = pq.read_table(folder / name).to_pylist()
        wrong = [row for row in table if expected[row["text"]] != row["label"]]
        assert not wrong, f"{folder.name}/{name}: filed under {recorded[:8]} but holds other labels: {wrong[:3]}"
    return recorded


def test_kept_bytes_are_what_a_pinned_read_returns_after_the_file_is_replaced(tmp_path):
    path = write(tmp_path / "f.csv", b"version a")
    with inputs.keeping() as kept:
        digest = inputs.file_hash(path)
    assert digest == hashlib.sha256(b"version a").hexdigest()
    write(tmp_path / "g.csv", b"version b")
    os.replace(tmp_path / "g.csv", path)
    with inputs.pinned({str(path): digest}, kept):
        assert inputs.read_bytes(path) == b"version a"
    assert inputs.read_bytes(path) == b"version b"  # outside a pin: the file as it is


def test_a_pinned_file_read_again_is_checked_against_its_hash(tmp_path):
    path = write(tmp_path / "f.csv", b"version a")
    digest = inputs.file_hash(path)  # not keeping: hashed in blocks, nothing kept
    with inputs.pinned({str(path): digest}):
        assert inputs.read_bytes(path) == b"version a"
        write(path, b"version b")
        with pytest.raises(inputs.InputChanged, match="f.csv was changed while this run read it"):
            inputs.read_bytes(path)
        path.unlink()
        with pytest.raises(inputs.InputChanged, match="f.csv was removed"):
            inputs.read_bytes(path)
        with pytest.raises(inputs.InputChanged, match="new.csv appeared"):
            inputs.read_bytes(write(tmp_path / "new.csv", b"x"))
        with pytest.raises(FileNotFoundError):  # never there: the reader reports it as usual
            inputs.read_bytes(tmp_path / "missing.csv")


def test_a_changed_input_is_retried_by_the_stage():
    from fewlabel.orchestration.stage import is_transient

    assert is_transient(inputs.InputChanged("x changed"))


@pytest.mark.parametrize("keep", [True, False])
def test_the_ingest_stage_parses_the_bytes_its_key_hashed(data_dir, tmp_path, monkeypatch, keep):
    """The labeled file is replaced (flipped labels) after the fingerprint hashed it and before the stage
    reads it: the stage parses the version it hashed, or (bytes not kept) refuses, for Prefect to retry."""
    from fewlabel import readers
    from fewlabel.config import DataConfig
    from fewlabel.tasks.ingest import ingest

    a, b = labeled_versions()
    labeled = write(tmp_path / "lab.csv", a)
    config = DataConfig(
        source="files", labeled_path=str(labeled), unlabeled_path=str(unlabeled_txt(tmp_path / "u.txt"))
    )
    read_labeled = readers.read_labeled

    def swapped_first(*args, **kwargs):
        write(tmp_path / "b.csv", b)
        os.replace(tmp_path / "b.csv", labeled)
        return read_labeled(*args, **kwargs)

    monkeypatch.setattr(readers, "read_labeled", swapped_first)
    if not keep:
        monkeypatch.setattr(inputs, "KEEP_MAX", 0)
        with pytest.raises(inputs.InputChanged, match="lab.csv was changed"):
            ingest.fn(config)
        assert ingest_artifacts(data_dir) == []
        return
    ref = ingest.fn(config)
    version = check_filed_under_what_it_holds(
        store.data_dir() / ref["path"], labeled, {hashlib.sha256(a).hexdigest(): labels_of(a)}
    )
    assert version == hashlib.sha256(a).hexdigest()


@pytest.mark.server
@pytest.mark.slow
def test_a_labeled_file_swapped_while_runs_read_it_is_never_filed_under_the_other_version(prefect_api, tmp_path):
    a, b = labeled_versions()
    versions = {hashlib.sha256(a).hexdigest(): labels_of(a), hashlib.sha256(b).hexdigest(): labels_of(b)}
    labeled = write(tmp_path / "lab.csv", a)
    unlabeled = unlabeled_txt(tmp_path / "unl.txt")
    config = [
        "data.source=files",
        f"data.labeled_path={labeled}",
        f"data.unlabeled_path={unlabeled}",
        "word2vec.vector_size=8",
        "word2vec.epochs=1",
        "classifier.estimator.max_iter=20",
        "classifier.pseudo_documents=0",
        "evaluate.bootstrap=50",
    ]
    stop = threading.Event()

    def swap():  # a writer replacing the file by atomic renames, as editors and sync tools do
        i = 0
        while not stop.is_set():
            tmp = tmp_path / f".lab.csv.{i % 2}"
            tmp.write_bytes(b if i % 2 else a)
            os.replace(tmp, labeled)
            i += 1
            time.sleep(0.0005)  # hundreds of swaps a second, without taking a core from the runs

    writer = threading.Thread(target=swap, daemon=True)
    writer.start()
    try:
        for seed in range(3):  # each seed is another split: ingest runs again, and stops after it
            done = fewlabel("run", *sets(*config, f"data.seed={seed}"), cwd=tmp_path, FEWLABEL_FAULT="preprocess:fail")
            assert done.returncode == 1 and "injected failure in stage preprocess" in done.stderr, done.stderr
    finally:
        stop.set()
        writer.join()
    data = tmp_path / "data"
    built = ingest_artifacts(data)
    assert len(built) == 3
    for folder in built:
        check_filed_under_what_it_holds(folder, labeled, versions)
    # run again, on the file now on disk, left alone: it never trains on the other version
    on_disk = hashlib.sha256(labeled.read_bytes()).hexdigest()
    done = fewlabel("run", "--json", *sets(*config, "data.seed=0"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert check_filed_under_what_it_holds(Path(result["artifacts"]["ingest"]), labeled, versions) == on_disk
