"""Stage pretrain: gensim Word2Vec on the unlabeled text and its shards plus the training sentences,
and the no-pretraining baseline on the training sentences alone (:mod:`fewlabel.word2vec`).

With ``word2vec.update`` (off by default), when an earlier pretrain artifact differs from this one's
inputs by new shards only (:func:`fewlabel.word2vec.previous_pretraining`), the stage continues that
model on the new shards instead of starting over. The previous artifact is then an input like any
other: its hash is in this stage's cache key and its lineage (``previous``), and the stats say what
the model was built from. ``--from-stage pretrain`` (or ``word2vec.update=false``) retrains in full.
"""

from __future__ import annotations

from pathlib import Path

from fewlabel import catalog, store
from fewlabel.catalog import TRAINING
from fewlabel.config import Config, Word2VecConfig
from fewlabel.corpus import corpus_parts
from fewlabel.orchestration.progress import Tracker
from fewlabel.orchestration.stage import code_version, stage


@stage("pretrain")
def pretrain(
    out: Path,
    preprocess: store.Ref,
    shard: list[store.Ref],
    config: Word2VecConfig,
    previous: store.Ref | None = None,
) -> dict:
    """Write ``vectors.parquet``, ``baseline_vectors.parquet`` and ``word2vec.model``; with a ``previous``
    pretrain artifact, by continuing its model on the shards it did not see. With ``word2vec.ensemble``
    above 1, the tables hold the seed ensemble's aligned mean vectors and ``word2vec.model`` is the model
    of the first seed (``word2vec.seed``)."""
    # gensim loads when the stage runs, not on a cache hit
    from fewlabel.word2vec import continue_pretraining, load_own_model, new_shards, save_model, vectors_table
    from fewlabel.word2vec import pretrain as fit_both

    tracker = Tracker("word2vec-epochs", "Word2Vec pretraining epochs")
    if previous is None:
        models, baseline, counts = fit_both(corpus_parts(preprocess, shard), config, store.data_dir(), tracker.update)
        store.write_table(out, catalog.BASELINE_VECTORS, vectors_table(baseline, config.vector_size))
        baseline_vocabulary = 0 if baseline is None else len(baseline[0].wv)
        model = models[0]  # the model file: the first seed's (an ensemble's vectors are in the table)
    else:
        added = new_shards(previous, shard)
        with store.open_verified(previous, catalog.WORD2VEC):  # its bytes match the manifest: fewlabel wrote it
            pass
        model = load_own_model(store.artifact_path(previous, catalog.WORD2VEC))
        update = continue_pretraining(
            model, [(s, catalog.UNLABELED) for s in added], config, store.data_dir(), tracker.update
        )
        # the baseline sees the training sentences alone, which are the previous artifact's (same preprocess)
        baseline = store.read_bytes(previous, catalog.BASELINE_VECTORS)
        store.output_path(out, catalog.BASELINE_VECTORS).write_bytes(baseline)
        baseline_vocabulary = previous["stats"]["baseline_vocabulary"]
        models = [model]
        before = previous["stats"]
        counts = {
            "corpus_sentences": before["corpus_sentences"] + update["new_sentences"],
            "corpus_words": before["corpus_words"] + update["new_words"],
            "long_sentences_split": before["long_sentences_split"] + update["long_sentences_split"],
            "incremental": {
                "from": {"path": previous["path"], "key": previous["key"], "sha256": previous["sha256"]},
                "new_shards": [
                    {"path": s["path"], "sha256": s["sha256"], "file": s["stats"].get("file")} for s in added
                ],
                **update,
            },
        }
    store.write_table(out, catalog.VECTORS, vectors_table(models, config.vector_size))
    save_model(model, store.output_path(out, catalog.WORD2VEC))
    return {
        **counts,
        "vocabulary": len(model.wv),
        "baseline_vocabulary": baseline_vocabulary,
        "seconds": round(tracker.seconds, 2),
    }


def _retraining() -> bool:
    """True inside a flow run asked to recompute from pretrain or earlier (``--from-stage``)."""
    from prefect.runtime import flow_run

    start = (flow_run.parameters or {}).get("from_stage")
    return start in TRAINING and TRAINING.index(start) <= TRAINING.index("pretrain")


def pretrain_args(_, refs: dict, config: Config) -> dict:
    """The stage's keyword arguments: with ``word2vec.update`` and no ``--from-stage`` at or before pretrain, the
    previous pretrain artifact it may continue (found before the cache key is computed, so the key
    depends on it), else None: a full retrain."""
    w2v = config.word2vec
    previous = None
    if w2v.update and not _retraining():
        from fewlabel.word2vec import previous_pretraining

        previous = previous_pretraining(refs["preprocess"], refs["shard"], w2v, code_version(pretrain.fn.__module__))
    return {"preprocess": refs["preprocess"], "shard": refs["shard"], "config": w2v, "previous": previous}
