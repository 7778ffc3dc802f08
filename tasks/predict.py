"""Predict: classify new texts with a trained run (:class:`fewlabel.predictor.Classifier`).

Each input file (the file itself, or every file of a folder) is a shard: the ``predict`` stage
classifies one file, ``batch_size`` rows at a time, into a cached artifact (so a folder that gained
a file only classifies that file, and shards can run on a Dask cluster). ``write_predictions`` then
joins the shards, in file order, into ``data/predictions/<name>.parquet``: origin, row, text, the
predicted label and one ``proba_<class>`` column per class. Every input row gets exactly one output row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from fewlabel import catalog, encodings, inputs, readers, store
from fewlabel.config import Config, PreprocessConfig, VectorizeConfig
from fewlabel.orchestration.stage import stage
from fewlabel.predictor import MODEL_STAGES, Classifier, output_file, schema


def shard_calls(
    input_path: str, record: dict, text_column: str, encoding: str, damaged_text: str = "refuse"
) -> dict[str, dict]:
    """One ``predict`` task's keyword arguments per input file (by its path), with the run's model
    artifacts and config."""
    config, refs = Config.model_validate(record["config"]), record["refs"]
    common = {
        **{name: refs[name] for name in MODEL_STAGES},
        "preprocess_config": config.preprocess,
        "vectorize_config": config.vectorize,
        "text_column": text_column,
        "encoding": encoding,
        "damaged_text": damaged_text,
    }
    paths = [str(path.resolve()) for path in readers.input_files(input_path, "input")]
    return {path: {"path": path, **common} for path in paths}


@stage("predict", fingerprint=inputs.file_fingerprint, label=lambda params: Path(params["path"]).name)
def predict(
    out: Path,
    path: str,
    pretrain: store.Ref,
    vectorize: store.Ref,
    train: store.Ref,
    preprocess_config: PreprocessConfig,
    vectorize_config: VectorizeConfig,
    text_column: str,
    encoding: str,
    damaged_text: str = "refuse",
    batch_size: int = 65_536,
) -> dict:
    """Classify every row of one input file, ``batch_size`` rows at a time, into ``predictions.parquet``."""
    classify = Classifier(preprocess_config, vectorize_config, pretrain, vectorize, train)
    frame = readers.read_unlabeled(path, text_column, encoding, what="input", damaged=damaged_text)
    counts, unknown = dict.fromkeys(classify.classes, 0), 0
    columns = schema(classify.classes)
    with store.table_writer(out, catalog.PREDICTIONS, columns) as write:
        for start in range(0, len(frame), batch_size):
            part = frame.iloc[start : start + batch_size]
            labels, proba, known = classify(part["text"].tolist())
            write(
                pa.table(
                    {
                        "origin": part["origin"].tolist(),
                        "row": part["row"].tolist(),
                        "text": part["text"].tolist(),
                        "predicted": labels.tolist(),
                        **{f"proba_{c}": proba[:, i].astype(np.float32) for i, c in enumerate(classify.classes)},
                        "known_words": known.astype(np.int64),
                    },
                    schema=columns,
                )
            )
            for label in classify.classes:
                counts[label] += int((labels == label).sum())
            unknown += int((known == 0).sum())
    return {
        "file": Path(path).name,
        "rows": len(frame),
        "predicted": counts,
        "classes": classify.classes,
        "blank_lines": int(frame.attrs.get("blank_lines", 0)),
        "no_known_word": unknown,
        "damaged_text": frame.attrs["damaged_text"],
    }


# named as the stages are (no random suffix); its output is its own file, so no Prefect result is
# persisted (a persisted nightly subflow would otherwise make its tasks persist theirs, by pickle)
@task(
    name="write-predictions", task_run_name="write-predictions", retries=2, retry_delay_seconds=2, persist_result=False
)
def write_predictions(shards: list[store.Ref], output_name: str | None, input_path: str) -> dict:
    """Join the shards' predictions, in input order, into one file, atomically; the counts per label."""
    out = output_file(output_name, input_path)
    classes = shards[0]["stats"]["classes"]
    counts = {c: sum(s["stats"]["predicted"][c] for s in shards) for c in classes}
    with store.atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema(classes), compression="zstd") as writer:
        for shard in shards:
            for table in store.iter_batches(shard, catalog.PREDICTIONS)[1]:
                writer.write_table(table)
    return {
        "output": str(out),
        "rows": sum(s["stats"]["rows"] for s in shards),
        "predicted": counts,
        "shards": len(shards),
        "blank_lines": sum(s["stats"].get("blank_lines", 0) for s in shards),
        "no_known_word": sum(s["stats"].get("no_known_word", 0) for s in shards),
        "damaged_text": encodings.damage_summary(
            shards[0]["stats"].get("damaged_text", {}).get("setting", "refuse"),
            *(s["stats"].get("damaged_text") for s in shards),
        ),
    }
