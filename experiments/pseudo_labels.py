"""Document pseudo-labels on the MR learning curve (session 4): the experiment behind fewlabel/pseudo.py.

The MLP fitted on the drawn labels scores every line of every unlabeled review; a review's score is
the mean of its lines' scores (many sentences vote, so it is far more reliable than one sentence);
the most confident reviews of each class lend their predicted label to all their lines, and a second
MLP is fitted on the drawn labels + those lines (``rounds`` times, each scoring with the last model).
Test predictions average the two MLPs' probabilities with the pseudo-labeled one counting as k
labeled rows, for every k of a grid at once (k=0: labels only, None: pseudo-labeled model alone).
The reviews' true labels are read only to report how accurate the pseudo-labels were ("pl",
diagnostic), never used. This is a binary-only copy of the product's fewlabel/pseudo.py (same
selection for two balanced classes) that exposes those diagnostics.

Usage (from the repository root):
    .venv/bin/python experiments/pseudo_labels.py '{"f0.2r2": {"frac": 0.2, "rounds": 2}}' [2,4,8,16,32,64]
    .venv/bin/python experiments/pseudo_labels.py --data-seed 1 '{"f0.2r2": {"frac": 0.2, "rounds": 2}}'
Spec keys: frac (share of reviews selected, half per class), rounds, "sentences": true (every line its
own document: no aggregation), "with_labeled": false (pseudo-labeled lines only), "alpha" (of the refit).
--data-seed S uses another MR test split (data.seed; the original runs set DATA_SEED=1 in the
environment), with its own pretrained vectors. Results: experiments/pseudo_labels.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import tarfile
import time

import mr_curve
import numpy as np
import pyarrow as pa

from fewlabel import corpora
from fewlabel.config import ClassifierConfig, DataConfig, PreprocessConfig, VectorizeConfig, Word2VecConfig
from fewlabel.dataset import split
from fewlabel.learning_curve import draw
from fewlabel.model import fit, make_classifier
from fewlabel.text import split_lines, tokenize
from fewlabel.vectors import counts_of, embedding, fit_component, sentence_vectors


def review_lines(data_seed: int):
    """(tokens of every unlabeled line, its review's row, review true labels by row) as prepare() builds them."""
    reviews, labeled = corpora.read_mr()
    _, test = split(labeled, DataConfig(seed=data_seed))
    test_texts = set(test["text"].str.strip())
    reviews = reviews[~reviews["text"].str.strip().isin(test_texts)]
    lines = split_lines(pa.Table.from_pandas(reviews[["text", "origin", "row"]], preserve_index=False))
    with tarfile.open(corpora.mr_archive()) as tar:
        raw = tar.extractfile(corpora.MR_MEMBERS["unlabeled"]).read().decode("utf-8-sig")
    truth = {i + 1: r[0] for i, r in enumerate(csv.reader(io.StringIO(raw)))}
    return tokenize(lines["text"], PreprocessConfig()), np.asarray(lines["row"].to_numpy()), truth


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", help='JSON: {"name": {"frac": 0.2, "rounds": 2, ...}, ...}')
    parser.add_argument("ns", nargs="?", default="2,4,8,16,32,64", help="labels per class, comma-separated")
    parser.add_argument("--data-seed", type=int, default=0, help="data.seed of the MR test split (default 0)")
    args = parser.parse_args()
    variants = json.loads(args.variants)
    ns = [int(x) for x in args.ns.split(",")]
    seed = args.data_seed
    t0 = time.perf_counter()
    unl_tokens, train, test, _ = mr_curve.prepare([], seed)
    line_tokens, line_review, truth = review_lines(seed)
    assert line_tokens.to_pylist()[:50] == unl_tokens.to_pylist()[:50] and len(line_tokens) == len(unl_tokens)
    w2v, vec, clf = Word2VecConfig(), VectorizeConfig(), ClassifierConfig()
    table = mr_curve.pretrained_table(unl_tokens, train, w2v, [], seed)
    own = (*embedding(table), counts_of(table))
    corpus = pa.chunked_array([a.cast(pa.list_(pa.string())) for a in (unl_tokens, train["token_array"])])
    component = fit_component(corpus, *own, vec)

    def V(toks):
        return sentence_vectors(toks, *own, vec, component)[0]

    Xtr, Xte, Xu = V(train["token_array"]), V(test["token_array"]), V(unl_tokens)
    ytr, yte = train["labels"], test["labels"]
    reviews, inverse = np.unique(line_review, return_inverse=True)
    true_review = np.array([truth[r] for r in reviews])
    counts = dict(zip(*np.unique(true_review, return_counts=True), strict=True))
    print(
        f"# prepared in {time.perf_counter() - t0:.0f} s; {len(Xu)} lines in {len(reviews)} reviews; "
        f"true review labels {counts}",
        flush=True,
    )
    ks = [0, 8, 16, 32, 64, 128, None]  # None = the pseudo-label model alone
    for name, spec in variants.items():
        t1 = time.perf_counter()
        row, diag = {k: {} for k in ks}, {}
        for n in ns:
            accs, pl = {k: [] for k in ks}, []
            for d in range(10):
                idx = draw(ytr, n, np.random.default_rng([d, n]))
                cfg = clf.model_copy(update={"random_state": d})
                base_model, _ = fit(Xtr[idx], ytr[idx], cfg)
                model = base_model
                for _round in range(spec.get("rounds", 1)):
                    classes = model.classes_
                    p = model.predict_proba(Xu)[:, 1]
                    inv = np.arange(len(Xu)) if spec.get("sentences") else inverse
                    score = np.bincount(inv, weights=p) / np.bincount(inv)
                    order = np.argsort(score)
                    k = int(spec["frac"] * len(score) / 2)
                    chosen = {0: order[:k], 1: order[::-1][:k]}
                    rev_label = np.full(len(score), None, dtype=object)
                    for c, picks in chosen.items():
                        rev_label[picks] = classes[c]
                    pick = np.concatenate(list(chosen.values()))
                    if not spec.get("sentences"):
                        mapped = np.array([corpora.MR_LABELS[t] for t in true_review[pick]], dtype=object)
                        pl.append(float(np.mean(mapped == rev_label[pick])))
                    mask = np.isin(inv, pick)
                    Xp, yp = Xu[mask], rev_label[inv[mask]]
                    X2 = np.vstack([Xtr[idx], Xp]) if spec.get("with_labeled", True) else Xp
                    y2 = np.concatenate([ytr[idx], yp]) if spec.get("with_labeled", True) else yp
                    c2 = cfg.model_copy(update={"alpha": spec.get("alpha", cfg.alpha), "alpha_max_per_row": None})
                    model = make_classifier(c2).fit(X2, y2)
                pa_, pb = base_model.predict_proba(Xte), model.predict_proba(Xte)
                for kk in ks:
                    lam = 1.0 if kk is None else kk / (kk + len(idx))
                    pred = base_model.classes_[np.argmax((1 - lam) * pa_ + lam * pb, axis=1)]
                    accs[kk].append(float(np.mean(pred == yte)))
            for kk in ks:
                row[kk][n] = accs[kk]
            diag[n] = np.mean(pl) if pl else float("nan")
        base = row[0]
        for kk in ks:
            cells = []
            for n in ns:
                diff = np.subtract(row[kk][n], base[n])
                better, worse = int(np.sum(diff > 0)), int(np.sum(diff < 0))
                cells.append(f"{np.mean(row[kk][n]):.4f} ({np.mean(diff):+.4f}, {better}/{worse})")
            print(f"| {name} k={kk} | " + " | ".join(cells) + f" | {time.perf_counter() - t1:.0f} s |", flush=True)
        print("| pl | " + " | ".join(f"{diag[n]:.2f}" for n in ns) + " |", flush=True)


if __name__ == "__main__":
    main()
