"""Incremental pretraining (``word2vec.update``) against a full retrain: time and learning-curve accuracy.

    .venv/bin/python bench/incremental.py mr [--new 0.01,0.1] [--draws 5] [--out FILE]
    .venv/bin/python bench/incremental.py synth [--size 1m] [--new 0.01] [--epochs 1] [--out FILE]

The corpus (MR's unlabeled text, or a bench/synth.py corpus) is cut by row order into a previous part
and a new shard (the last ``--new`` share of it). Per share: Word2Vec trained in full on the previous
part (+ training sentences) is saved and loaded back as the pretrain stage does
(:func:`fewlabel.word2vec.save_model`, :func:`~fewlabel.word2vec.load_own_model`), then continued on the
new shard (:func:`~fewlabel.word2vec.update_model`); the reference is a full retrain on everything.
Timed: the full retrain; the update (load + vocabulary update + training). Alternated, same config
(the defaults, ``--epochs`` to override), token lists (list mode) on both sides.

On MR, accuracy: for each model, SIF vectors with the default vectorize config (component from the
model's own corpus sample), then the labels-only MLP (default classifier config, no pseudo-labels) on
``--draws`` random draws of N labels per class, N = 2..64 and all, the same draws for every model;
test accuracy averaged over draws. Synthetic labels are random, so on synth only time is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def say(*parts) -> None:
    print(*parts, flush=True)


def mr_tokens():
    import pyarrow as pa

    from fewlabel.config import load_config
    from fewlabel.dataset import load, split, subsample, with_extra
    from fewlabel.text import split_lines, tokenize

    config = load_config(None, [])
    d, p = config.data, config.preprocess
    unlabeled, labeled, test = load(d)
    unlabeled = with_extra(unlabeled, d.extra_unlabeled)
    train, test = split(labeled, d) if test is None else (labeled, test)
    train, unused = subsample(train, None, d.seed)  # every training label: the curve draws from them
    unlabeled = unlabeled[~unlabeled["text"].str.strip().isin(set(test["text"].str.strip()))]
    texts = pa.table({"text": pa.array(unlabeled["text"].tolist(), pa.string())})
    if p.split_lines:
        texts = split_lines(texts.append_column("document", pa.array(range(len(texts)), pa.int64())))
    return {
        "unlabeled": tokenize(texts["text"], p).to_pylist(),
        "train": tokenize(pa.array(train["text"].tolist(), pa.string()), p).to_pylist(),
        "test": tokenize(pa.array(test["text"].tolist(), pa.string()), p).to_pylist(),
        "y_train": train["label"].tolist(),
        "y_test": test["label"].tolist(),
    }


def synth_tokens(size: str):
    import pyarrow.parquet as pq

    from fewlabel.config import PreprocessConfig
    from fewlabel.text import tokenize

    path = ROOT / "bench" / "out" / f"synth-{size}.parquet"
    return {"unlabeled": tokenize(pq.read_table(path)["text"], PreprocessConfig()).to_pylist(), "train": []}


def curve(model, data: dict, draws: int) -> dict:
    """Mean test accuracy over ``draws`` draws per point of the labels-only MLP on the model's SIF vectors."""
    import numpy as np
    import pyarrow as pa

    from fewlabel.config import ClassifierConfig, VectorizeConfig
    from fewlabel.learning_curve import draw
    from fewlabel.model import fit
    from fewlabel.vectors import STRINGS, counts_of, embedding, fit_component, sentence_vectors
    from fewlabel.word2vec import vectors_table

    v, c = VectorizeConfig(), ClassifierConfig()
    own = (*embedding(vectors_table(model, model.vector_size)), counts_of(vectors_table(model, model.vector_size)))
    corpus = pa.array(data["unlabeled"] + data["train"], STRINGS)
    component = fit_component(corpus, *own, v)
    x_train = sentence_vectors(pa.array(data["train"], STRINGS), *own, v, component)[0]
    x_test = sentence_vectors(pa.array(data["test"], STRINGS), *own, v, component)[0]
    y, y_test = np.asarray(data["y_train"], dtype=object), np.asarray(data["y_test"], dtype=object)
    out = {}
    for n in (2, 4, 8, 16, 32, 64, None):
        scores = []
        for seed in range(draws if n is not None else 1):
            idx = draw(y, n, np.random.default_rng(seed))
            classifier = c.model_copy(update={"random_state": seed})
            scores.append(float((fit(x_train[idx], y[idx], classifier)[0].predict(x_test) == y_test).mean()))
        out["all" if n is None else str(n)] = round(statistics.mean(scores), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", choices=("mr", "synth"))
    parser.add_argument("--size", default="1m")
    parser.add_argument("--new", default="0.01", help="shares of the corpus in the new shard, comma-separated")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import os

    from fewlabel.config import Word2VecConfig
    from fewlabel.word2vec import chunked, fit_word2vec, load_own_model, save_model, update_model

    began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    config = Word2VecConfig(**({"epochs": args.epochs} if args.epochs else {}))
    data = mr_tokens() if args.corpus == "mr" else synth_tokens(args.size)
    n = len(data["unlabeled"])
    result = {
        "date": began,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "corpus": args.corpus if args.corpus == "mr" else f"synth-{args.size}",
        "unlabeled_sentences": n,
        "train_sentences": len(data["train"]),
        "word2vec": config.model_dump(),
        "shares": {},
    }
    say(
        f"{result['corpus']}: {n} unlabeled + {len(data['train'])} training sentences; "
        f"load {result['load_avg_at_start']}"
    )
    everything = data["unlabeled"] + data["train"]
    start = time.perf_counter()
    full = fit_word2vec(everything, config)
    t_full = time.perf_counter() - start
    result["full_retrain_s"] = round(t_full, 2)
    say(f"  full retrain on {len(everything)} sentences: {t_full:.1f} s")
    if args.corpus == "mr":
        result["full_curve"] = curve(full, data, args.draws)
        say(f"  full retrain curve: {result['full_curve']}")
    for share in (float(s) for s in args.new.split(",")):
        cut = n - max(1, round(n * share))
        previous = fit_word2vec(data["unlabeled"][:cut] + data["train"], config)
        with tempfile.TemporaryDirectory() as tmp:
            save_model(previous, Path(tmp) / "word2vec.model")
            start = time.perf_counter()
            model = load_own_model(Path(tmp) / "word2vec.model")
            update_model(model, {"corpus_iterable": chunked(data["unlabeled"][cut:])[0]}, config)
            t_update = time.perf_counter() - start
        row = {
            "new_sentences": n - cut,
            "update_s": round(t_update, 2),
            "update_vs_full": round(t_update / t_full, 4),
            "vocabulary": {"full": len(full.wv), "previous": len(previous.wv), "updated": len(model.wv)},
        }
        say(
            f"  new shard {share:.0%} ({n - cut} sentences): update {t_update:.1f} s = "
            f"{row['update_vs_full']:.1%} of full"
        )
        if args.corpus == "mr":
            row["updated_curve"] = curve(model, data, args.draws)
            row["previous_only_curve"] = curve(previous, data, args.draws)
            row["updated_minus_full_points"] = {
                k: round(100 * (row["updated_curve"][k] - result["full_curve"][k]), 2) for k in row["updated_curve"]
            }
            say(f"    updated curve {row['updated_curve']}; previous model alone {row['previous_only_curve']}")
            say(f"    updated - full, points: {row['updated_minus_full_points']}")
        result["shares"][str(share)] = row
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    say(json.dumps(result))


if __name__ == "__main__":
    main()
