"""Post-processing levers on the MR learning curve (session 4), pretrained arm only, labels only:
a decision threshold set so that the unlabeled pool is split in the labels' class proportions
("balance"), and whitening with the pretraining corpus' shrunk covariance ("shrinkwhite", lam).
Neither was kept (experiments/post_processing.md).

Usage (from the repository root):
    .venv/bin/python experiments/post_processing.py \
        '{"balance": {"balance": true}, "sw1": {"kind": "shrinkwhite", "lam": 1}}'
"""

from __future__ import annotations

import argparse
import json
import time

import mr_curve
import numpy as np
import pyarrow as pa

from fewlabel.config import ClassifierConfig, VectorizeConfig, Word2VecConfig
from fewlabel.learning_curve import draw
from fewlabel.model import fit
from fewlabel.vectors import counts_of, embedding, fit_component, sentence_vectors


def unit(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="?", default="{}", help='JSON: {"name": {"balance": true}, ...}')
    variants = json.loads(parser.parse_args().variants)
    ns = [2, 4, 8, 16, 32, 64]
    t0 = time.perf_counter()
    unl_tokens, train, test, _ = mr_curve.prepare([])
    w2v, vec, clf = Word2VecConfig(), VectorizeConfig(), ClassifierConfig()
    table = mr_curve.pretrained_table(unl_tokens, train, w2v, [])
    own = (*embedding(table), counts_of(table))
    corpus = pa.chunked_array([a.cast(pa.list_(pa.string())) for a in (unl_tokens, train["token_array"])])
    component = fit_component(corpus, *own, vec)

    def V(toks):
        return sentence_vectors(toks, *own, vec, component)[0].astype(np.float64)

    Xtr, Xte, Xc = V(train["token_array"]), V(test["token_array"]), V(corpus)
    ytr, yte = train["labels"], test["labels"]
    rng = np.random.default_rng(0)
    pool = Xc[np.sort(rng.choice(len(Xc), 5000, replace=False))]
    # review ids of the unlabeled lines (for document-grouped levers)
    print(f"# prepared in {time.perf_counter() - t0:.0f} s; corpus {len(Xc)}", flush=True)
    Z = unit(Xc)
    mu, sd = Z.mean(0), Z.std(0)
    Zs = (Z - mu) / sd
    cov = np.cov(Zs, rowvar=False)
    evals, evecs = np.linalg.eigh(cov)

    def make_transform(spec):
        kind = spec.get("kind")
        if kind == "shrinkwhite":  # (cov + lam*mean_var I)^(-1/2) on corpus-standardized vectors
            lam = spec["lam"]
            scale = 1 / np.sqrt(evals + lam * evals.mean())
            W = evecs * scale
            return lambda x: ((unit(x) - mu) / sd) @ W
        return None

    results = {}
    for name, spec in {"default": {}, **variants}.items():
        tf = make_transform(spec)
        cfg = clf
        if tf is not None:
            cfg = clf.model_copy(update={"l2_normalize": False, "standardize": spec.get("std", False)})
        a_tr, a_te, a_pool = (tf(Xtr), tf(Xte), tf(pool)) if tf else (Xtr, Xte, pool)
        row = {}
        for n in ns:
            accs = []
            for d in range(10):
                idx = draw(ytr, n, np.random.default_rng([d, n]))
                model, _ = fit(a_tr[idx], ytr[idx], cfg.model_copy(update={"random_state": d}))
                if spec.get("balance"):
                    classes = model.classes_
                    p_pool = model.predict_proba(a_pool)[:, 1]
                    thr = np.quantile(p_pool, np.mean(ytr[idx] == classes[0]))
                    pred = np.where(model.predict_proba(a_te)[:, 1] > thr, classes[1], classes[0])
                else:
                    pred = model.predict(a_te)
                accs.append(float(np.mean(pred == yte)))
            row[n] = accs
        results[name] = row
        base = results["default"]
        cells = []
        for n in ns:
            diff = np.subtract(row[n], base[n])
            better, worse = int(np.sum(diff > 0)), int(np.sum(diff < 0))
            cells.append(f"{np.mean(row[n]):.4f} ({np.mean(diff):+.4f}, {better}/{worse})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
