"""Which default settings give the best MR test accuracy with few labels?

Calls the pipeline's pure functions directly (no Prefect, no artifact store) and reproduces what
``flows/train.py`` does for ``data.source=mr``:

* ingest: ``read_mr()``, the stratified seeded split (``test_size=0.5``, ``seed=0``: 2,000 test
  sentences), then ``subsample(train, N, draw_seed)``; unlabeled reviews identical to a test
  sentence are removed (there are none on MR with seed 0; counted and printed).
* preprocess: unlabeled reviews split into lines with ``split_lines``; ``tokenize`` on every split.
* pretrain: ``fit_word2vec`` on the unlabeled lines + the training sentences (text only), and the
  no-pretraining baseline: the same Word2Vec config on the N-per-class training sentences only.
* vectorize: ``vectors_table`` -> ``embedding`` -> ``average``.
* train: ``fewlabel.model.fit`` (the classifier pipeline: Normalizer, StandardScaler, MLP) on the N-per-class labels.
* evaluate: test accuracy; majority = most frequent training label (``majority_label``).

One shortcut, to fit the time budget: the flow pretrains once per run, on the reviews + the unused
training sentences (pooled) + the kept training sentences. That is the reviews + ALL 2,000 training
sentences whatever the draw; only the order of sentences differs. Here Word2Vec is pretrained ONCE
per (preprocess, word2vec) config on the reviews' lines followed by all training sentences (no
labels, test sentences excluded), and those vectors are reused across label draws and N. The
no-pretraining baseline is retrained for every draw, exactly as in the flow.

A second, deliberate difference: in the flow ``data.seed`` seeds both the test split and the label
draw. Here the test split is fixed (seed 0) and only the label draw seed varies (0..draws-1), so
every config is scored on the same 2,000 test sentences with the same draws (paired comparisons).

Usage: .venv/bin/python experiments/defaults.py [--draws 10] [--n 16 64] [--configs NAME ...]
Runs sequentially in one process, Word2Vec workers=1 (byte-reproducible). Prints markdown tables.
Unset fields take today's config defaults (which this experiment helped choose), so the figures of
experiments/defaults.md are reproduced only at the commit they were measured at (2fd86bc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fewlabel.config import ClassifierConfig, DataConfig, PreprocessConfig, Word2VecConfig
from fewlabel.corpora import read_mr
from fewlabel.dataset import split, subsample
from fewlabel.metrics import majority_label
from fewlabel.model import fit
from fewlabel.text import split_lines, tokenize
from fewlabel.vectors import average, embedding
from fewlabel.word2vec import fit_word2vec, vectors_table

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("FEWLABEL_DATA_DIR", str(ROOT / "data"))  # read at call time: the MR archive in data/external

# Representation configs: (preprocess overrides, word2vec overrides). One factor at a time from the
# project defaults, plus combinations chosen after the one-factor results.
REPRESENTATIONS: dict[str, tuple[dict, dict]] = {
    "default": ({}, {}),  # stopwords=none, sg=1, epochs=10, min_count=2
    "stop_english": ({"stopwords": "english"}, {}),
    "cbow": ({}, {"sg": 0}),
    "epochs20": ({}, {"epochs": 20}),
    "min_count5": ({}, {"min_count": 5}),
    "cbow_epochs20": ({}, {"sg": 0, "epochs": 20}),
    "epochs20_min_count5": ({}, {"epochs": 20, "min_count": 5}),
    "epochs40": ({}, {"epochs": 40}),
}

# Classifiers: the MLP grid (hidden (32,), logistic, adam: the project's defaults otherwise) and one
# logistic-regression reference on standardized vectors.
CLASSIFIERS: dict[str, dict | None] = {
    f"mlp a={alpha:g} std={'T' if std else 'F'}": {"alpha": alpha, "standardize": std}
    for alpha in (1e-4, 0.1, 1.0, 10.0)
    for std in (True, False)
}
CLASSIFIERS["logreg C=0.1 std"] = None


def logreg_fit(X: np.ndarray, y: np.ndarray):
    model = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(C=0.1, max_iter=1000))])
    return model.fit(X, y)


def vectors(model, dim: int):
    return embedding(vectors_table(model, dim))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10, help="label draws (seeds 0..draws-1)")
    parser.add_argument("--n", type=int, nargs="+", default=[16, 64], help="labels per class")
    parser.add_argument("--configs", nargs="+", default=list(REPRESENTATIONS), choices=list(REPRESENTATIONS))
    parser.add_argument("--json", type=Path, help="also write every per-draw accuracy here")
    args = parser.parse_args()
    start = time.perf_counter()
    print(
        f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}",
        flush=True,
    )

    # ingest (fixed split, seed 0)
    reviews, labeled = read_mr()
    train, test = split(labeled, DataConfig())
    test_texts = set(test["text"].str.strip())
    leaked = reviews["text"].str.strip().isin(test_texts)
    print(
        f"# reviews {len(reviews)}, train {len(train)}, test {len(test)}, reviews equal to a test sentence "
        f"removed: {int(leaked.sum())}, train sentences equal to a test sentence: "
        f"{int(train['text'].str.strip().isin(test_texts).sum())}",
        flush=True,
    )
    reviews = reviews[~leaked]
    draws = {(n, seed): subsample(train, n, seed)[0] for n in args.n for seed in range(args.draws)}
    y_test = np.asarray(test["label"].tolist(), dtype=object)

    rows, timings = [], {}
    tokenized: dict[str, tuple] = {}
    for name in args.configs:
        pre_over, w2v_over = REPRESENTATIONS[name]
        pre, w2v = PreprocessConfig(**pre_over), Word2VecConfig(**w2v_over)
        key = pre.model_dump_json()
        if key not in tokenized:
            lines = split_lines(pa.Table.from_pandas(reviews[["text", "origin", "row"]], preserve_index=False))
            tokenized[key] = (
                tokenize(lines["text"], pre).to_pylist(),
                pd.Series(tokenize(pa.array(train["text"].tolist()), pre).to_pylist(), index=train.index),
                tokenize(pa.array(test["text"].tolist()), pre),
            )
        unl_tokens, train_tokens, test_tokens = tokenized[key]
        corpus = unl_tokens + train_tokens.tolist()
        t0 = time.perf_counter()
        model = fit_word2vec(corpus, w2v)
        seconds = time.perf_counter() - t0
        vocab, matrix = vectors(model, w2v.vector_size)
        X_test_pre, test_counts = average(test_tokens, vocab, matrix)
        print(
            f"## {name}: pretrain {len(corpus)} sentences, {sum(map(len, corpus))} words, vocabulary "
            f"{len(vocab)}, {seconds:.1f} s; test zero vectors {int((test_counts == 0).sum())}",
            flush=True,
        )
        t1 = time.perf_counter()
        for (n, seed), kept in draws.items():
            kept_tokens = train_tokens.loc[kept.index]
            kept_arr = pa.array(kept_tokens.tolist(), pa.list_(pa.string()))
            y = np.asarray(kept["label"].tolist(), dtype=object)
            baseline = fit_word2vec(kept_tokens.tolist(), w2v)  # no pretraining: train sentences only
            b_vocab, b_matrix = vectors(baseline, w2v.vector_size)
            arms = {
                "pretrained": (average(kept_arr, vocab, matrix)[0], X_test_pre),
                "no_pretraining": (average(kept_arr, b_vocab, b_matrix)[0], average(test_tokens, b_vocab, b_matrix)[0]),
            }
            base = {"config": name, "n": n, "seed": seed}
            majority = float((y_test == majority_label(y.tolist())).mean())
            rows.append({**base, "arm": "majority", "classifier": "-", "accuracy": majority, "converged": True})
            for arm, (X, X_te) in arms.items():
                for cname, over in CLASSIFIERS.items():
                    if over is None:
                        clf, converged = logreg_fit(X, y), True
                    else:
                        clf, converged = fit(X, y, ClassifierConfig(**over))
                    acc = float((clf.predict(X_te) == y_test).mean())
                    rows.append({**base, "arm": arm, "classifier": cname, "accuracy": acc, "converged": converged})
        timings[name] = {"pretrain_s": round(seconds, 1), "classifiers_s": round(time.perf_counter() - t1, 1)}
        print(f"## {name}: classifiers {timings[name]['classifiers_s']} s", flush=True)
        report(pd.DataFrame([r for r in rows if r["config"] == name]), args.n)

    frame = pd.DataFrame(rows)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "timings": timings}, indent=1))
    print("\n# Summary: pretrained arm, default classifier (mlp a=1 std=T) and best classifier per config\n")
    summary(frame, args.n)
    print(f"\n# total wall time {time.perf_counter() - start:.0f} s; timings {timings}")


def cell(acc: pd.Series) -> str:
    return f"{acc.mean():.4f} ± {acc.std(ddof=1):.4f}"


def report(frame: pd.DataFrame, ns: list[int]) -> None:
    """One table per config: classifier x arm x N, mean ± std over draws (and non-converged fits)."""
    print("\n| classifier | arm | " + " | ".join(f"N={n}" for n in ns) + " |")
    print("|---|---|" + "---|" * len(ns))
    for (clf, arm), group in frame.groupby(["classifier", "arm"], sort=False):
        cells = []
        for n in ns:
            g = group[group["n"] == n]
            bad = int((~g["converged"]).sum())
            cells.append(cell(g["accuracy"]) + (f" ({bad}/{len(g)} not conv.)" if bad else ""))
        print(f"| {clf} | {arm} | " + " | ".join(cells) + " |")
    print(flush=True)


def summary(frame: pd.DataFrame, ns: list[int]) -> None:
    pre = frame[frame["arm"] == "pretrained"]
    print("| config | classifier | " + " | ".join(f"N={n}" for n in ns) + " |")
    print("|---|---|" + "---|" * len(ns))
    for name, group in pre.groupby("config", sort=False):
        means = group.groupby("classifier")["accuracy"].mean()
        for clf in dict.fromkeys(["mlp a=1 std=T", means.idxmax()]):
            cells = [cell(group[(group["classifier"] == clf) & (group["n"] == n)]["accuracy"]) for n in ns]
            print(f"| {name} | {clf} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
