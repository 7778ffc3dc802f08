"""The training pipeline straight on gensim and scikit-learn: no Prefect, no Parquet, no artifacts.

    .venv/bin/python bench/bare.py [--config FILE] [--set section.key=value ...] [--json]

The reference arm of `make bench`: the same stages as `fewlabel run`, with the same config (the
same defaults and overrides) and the same pure functions (reading, split, tokenizer, Word2Vec,
averaging, MLP, bootstrap), all in memory in one process. What `fewlabel run` costs beyond this
is orchestration (Prefect) and storage (Parquet, hashes, manifests, cache records).

Prefect is never imported (checked at the end): the computation comes from fewlabel's core modules
(fewlabel.dataset, text, word2vec, vectors, model, metrics), which do not depend on it. It trains
both arms (pretrained, with document pseudo-labels from every unlabeled line where the flow samples
at most 100k, and no-pretraining) and the majority baseline and prints their test metrics, which
should equal the flow's for the same config.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from sklearn.metrics import accuracy_score, f1_score

    from fewlabel import stats
    from fewlabel.config import load_config
    from fewlabel.dataset import load, split, subsample, with_extra
    from fewlabel.metrics import majority_label
    from fewlabel.model import fit, fit_pretrained
    from fewlabel.text import split_lines, tokenize
    from fewlabel.vectors import STRINGS, counts_of, embedding, fit_component, sentence_vectors
    from fewlabel.word2vec import fit_word2vec, vectors_table

    config = load_config(args.config, args.set)
    seconds = {"import": time.perf_counter() - start}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        seconds[name] = round(now - since, 3)
        return now

    # ingest: read, split, subsample, pool unused labels, drop unlabeled texts equal to a test text
    t = time.perf_counter()
    d = config.data
    unlabeled, labeled, test = load(d)
    unlabeled = with_extra(unlabeled, d.extra_unlabeled)
    if test is None:
        train, test = split(labeled, d)
    else:
        train = labeled
    train, unused = subsample(train, d.labels_per_class, d.seed)
    if d.pool_unused_labels and len(unused):
        unlabeled = pd.concat([unlabeled, unused[["text", "origin", "row"]]], ignore_index=True)
    unlabeled = unlabeled[~unlabeled["text"].str.strip().isin(set(test["text"].str.strip()))]
    t = lap("ingest", t)

    # preprocess: documents split into lines, then the tokenizer
    p = config.preprocess
    texts = pa.table(
        {
            "text": pa.array(unlabeled["text"].tolist(), pa.string()),
            "document": pa.array(np.arange(len(unlabeled)), pa.int64()),
        }
    )
    if p.split_lines:
        texts = split_lines(texts)
    tokens = {
        "unlabeled": tokenize(texts["text"], p),
        "train": tokenize(pa.array(train["text"].tolist(), pa.string()), p),
        "test": tokenize(pa.array(test["text"].tolist(), pa.string()), p),
    }
    t = lap("preprocess", t)

    # pretrain: Word2Vec on unlabeled + training text; the baseline on the training text only
    w = config.word2vec
    train_lists = tokens["train"].to_pylist()
    corpus = tokens["unlabeled"].to_pylist() + train_lists
    models = {"pretrained": fit_word2vec(corpus, w), "no_pretraining": fit_word2vec(train_lists, w)}
    del corpus
    t = lap("pretrain", t)

    # vectorize: as configured (weighting, common component from each arm's own corpus, pooling)
    v = config.vectorize
    corpora = {
        "pretrained": pa.chunked_array([tokens["unlabeled"].cast(STRINGS), tokens["train"].cast(STRINGS)]),
        "no_pretraining": tokens["train"],
    }
    features = {}
    for arm, model in models.items():
        table = vectors_table(model, w.vector_size)  # an in-memory Arrow table, never written
        own = (*embedding(table), counts_of(table))
        component = fit_component(corpora[arm], *own, v)
        splits = ("train", "test", "unlabeled") if arm == "pretrained" else ("train", "test")  # + pseudo-label pool
        features[arm] = {split: sentence_vectors(tokens[split], *own, v, component)[0] for split in splits}
    t = lap("vectorize", t)

    # train: StandardScaler + MLP per arm, the pretrained one with document pseudo-labels
    y_train = np.asarray(train["label"].tolist(), dtype=object)
    y_test = np.asarray(test["label"].tolist(), dtype=object)
    classifiers = {
        "pretrained": fit_pretrained(
            features["pretrained"]["train"],
            y_train,
            config.classifier,
            features["pretrained"]["unlabeled"],
            texts["document"].to_numpy(),
        )[0],
        "no_pretraining": fit(features["no_pretraining"]["train"], y_train, config.classifier)[0],
    }
    t = lap("train", t)

    # evaluate: accuracy, macro-F1, bootstrap intervals, paired comparison
    e = config.evaluate
    predictions = {arm: classifiers[arm].predict(features[arm]["test"]) for arm in classifiers}
    predictions["majority"] = np.full(len(y_test), majority_label(list(y_train)), dtype=object)
    metrics = {}
    for method, pred in predictions.items():
        correct = (y_test == pred).astype(float)
        metrics[method] = {
            "accuracy": round(float(accuracy_score(y_test, pred)), 4),
            "macro_f1": round(float(f1_score(y_test, pred, average="macro", zero_division=0)), 4),
            "accuracy_ci": stats.bootstrap_interval(correct, e.bootstrap, e.confidence, e.seed),
        }
    a_ok, b_ok = y_test == predictions["pretrained"], y_test == predictions["no_pretraining"]
    stats.bootstrap_interval(a_ok.astype(float) - b_ok.astype(float), e.bootstrap, e.confidence, e.seed)
    stats.mcnemar_exact(a_ok, b_ok)
    lap("evaluate", t)
    seconds["total"] = round(time.perf_counter() - start, 3)

    if "prefect" in sys.modules:
        raise RuntimeError("bare.py imported Prefect: it must not")
    result = {
        "metrics": {m: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for m, v in metrics.items()},
        "sizes": {
            "unlabeled_sentences": len(tokens["unlabeled"]),
            "train": len(y_train),
            "test": len(y_test),
            "corpus_words": sum(map(len, train_lists))
            + int(pa.compute.sum(pa.compute.list_value_length(tokens["unlabeled"])).as_py() or 0),
            "vocabulary": len(models["pretrained"].wv) if models["pretrained"] else 0,
        },
        "seconds": seconds,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for method, v in result["metrics"].items():
            print(f"{method:<15} accuracy {v['accuracy']:.4f}  macro-F1 {v['macro_f1']:.4f}")
        print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in seconds.items()))
    return result


if __name__ == "__main__":
    main()
