"""Post-processing levers on the MR learning curve (session 4), pretrained arm only, labels only:
a decision threshold set so that the unlabeled pool is split in the labels' class proportions
("balance"), and whitening with the pretraining corpus' shrunk covariance ("shrinkwhite", lam).
Neither was kept (bench/RESULTS.md, session 4).

Usage: .venv/bin/python bench/post_experiment.py '{"balance": {"balance": true}, "sw1": {"kind": "shrinkwhite", "lam": 1}}'
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import levers_experiment as lx  # noqa: E402
from fewlabel.config import ClassifierConfig, VectorizeConfig, Word2VecConfig  # noqa: E402
from tasks.curve import draw  # noqa: E402
from tasks.train import fit  # noqa: E402
from tasks.vectorize import counts_of, embedding  # noqa: E402


def unit(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def main():
    variants = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    ns = [2, 4, 8, 16, 32, 64]
    t0 = time.perf_counter()
    unl_tokens, train, test, _ = lx.prepare([])
    w2v, vec, clf = Word2VecConfig(), VectorizeConfig(), ClassifierConfig()
    table = lx.pretrained_table(unl_tokens, train, w2v, [])
    own = (*embedding(table), counts_of(table))
    corpus = pa.chunked_array([a.cast(pa.list_(pa.string())) for a in (unl_tokens, train["token_array"])])
    component = lx.fit_component(corpus, *own, vec)
    V = lambda toks: lx.sentence_vectors(toks, *own, vec, component)[0].astype(np.float64)  # noqa: E731
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
        cells = [f"{np.mean(row[n]):.4f} ({np.mean(np.subtract(row[n], base[n])):+.4f}, "
                 f"{int(np.sum(np.subtract(row[n], base[n]) > 0))}/{int(np.sum(np.subtract(row[n], base[n]) < 0))})"
                 for n in ns]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
