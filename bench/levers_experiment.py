"""Learning-curve levers on MR: sentence-vector weighting, pooling, extra pretraining text, Word2Vec
and classifier settings, measured exactly as ``fewlabel curve`` measures them.

Calls the pipeline's pure functions (no Prefect, no artifact store) and reproduces the curve flow
for ``data.source=mr``: ``read_mr`` + the stratified split (seed 0, 2,000 test sentences); the
reviews split into lines and tokenized, reviews equal to a test sentence removed, plus the extra
corpora if any (``with_extra``); Word2Vec pretrained on unlabeled lines + all 2,000 training
sentences (no labels, as the curve flow does with labels_per_class=null); features with
``sentence_vectors`` (the common component, if removed, estimated on unlabeled + training text);
then for every N and draw ``tasks.curve.draw`` and ``tasks.curve.predict_all`` (the same seeds as
the curve: draw d uses seed d), which fits the pretrained MLP, the no-pretraining arm (Word2Vec on
the drawn sentences only, vectorized with the same vectorize config), TF-IDF + LR and majority.

Pretrained vectors are cached per (word2vec config, extra corpora) in data/bench/ (git-ignored).

Usage: .venv/bin/python bench/levers_experiment.py [--draws 10] [--n 16 64] [--baseline NAME] --configs NAME ...
One process, Word2Vec workers=1. Prints one markdown row per config and method; with --baseline, also
the paired per-draw difference of each config's MLP arms against that config (run in the same call).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FEWLABEL_DATA_DIR", str(ROOT / "data"))

import tasks.curve as curve_module  # noqa: E402
from fewlabel.config import (  # noqa: E402
    ClassifierConfig,
    CurveConfig,
    DataConfig,
    PreprocessConfig,
    VectorizeConfig,
    Word2VecConfig,
)
from fewlabel.readers import read_mr  # noqa: E402
from tasks.curve import draw, predict_all  # noqa: E402
from tasks.ingest import split, with_extra  # noqa: E402
from tasks.preprocess import split_lines, tokenize  # noqa: E402
from tasks.pretrain import fit_word2vec, vectors_table  # noqa: E402
from tasks.vectorize import counts_of, embedding, fit_component, sentence_vectors  # noqa: E402

# name: {"w2v": {...}, "vec": {...}, "clf": {...}, "extra": [...], "post": {...}, "tables": [...]}, all relative
# to the defaults. "tables": vector files (or "default": the usual pretrained table) whose vectors are
# concatenated per word for the pretrained arm (joined_tables).
# Rows measured before session 4 had no document pseudo-labels: "clf": {"pseudo_documents": 0} reproduces them.
# "post" holds levers not (yet) in the config, applied here to BOTH MLP arms by wrapping the functions
# tasks.curve.predict_all calls (tasks.curve.fit / sentence_vectors / fit_component):
#   "l2": true        each sentence vector scaled to unit length (after component removal, before the
#                     classifier's standardization); "l2_scale": s multiplies the unit vectors by s
#   "components": k   remove the top k uncentered principal directions instead of 1 (needs
#                     vec.remove_component, estimated on the same text as the single component)
#   "ensemble": k     k MLPs with random_state = seed + 1000 j (j = 0..k-1; j = 0 is the usual fit),
#                     predict_proba averaged, argmax
#   "corpus_std": true  the pretrained arm's vectors are L2-normalized and standardized with the mean and
#                     std of the pretraining corpus' own (normalized) sentence vectors, not of the few
#                     training rows; its MLP then gets neither step. The no-pretraining arm, whose only
#                     corpus is the drawn sentences, keeps the classifier's usual steps. With it:
#                     "center_only" (subtract the corpus mean, no division), "pca": k (project on the top k
#                     principal directions of the standardized corpus vectors; "whiten": divide by their
#                     std), "renorm" (each result scaled to length sqrt(dim) again)
#   "self_train": {"pool": m, "threshold": t, "rounds": r}  the pretrained arm's MLP is wrapped in scikit-learn's
#                     SelfTrainingClassifier with m seeded sentences of the pretraining corpus (never test) as
#                     unlabeled rows: pseudo-labels above probability t join, for r rounds ("k_best": k,
#                     the k most confident per round instead)
CONFIGS: dict[str, dict] = {
    "mean": {},
    "sif": {"vec": {"weighting": "sif"}},
    "sif_a1e-4": {"vec": {"weighting": "sif", "sif_a": 1e-4}},
    "sif_a1e-2": {"vec": {"weighting": "sif", "sif_a": 1e-2}},
    "sif_pc": {"vec": {"weighting": "sif", "remove_component": True}},
    "tfidf": {"vec": {"weighting": "tfidf"}},
    "mean_max": {"vec": {"pooling": "mean_max"}},
    "mean_max_min": {"vec": {"pooling": "mean_max_min"}},
    "sif_max_min": {"vec": {"weighting": "sif", "pooling": "mean_max_min"}},
    "wiki_lee": {"extra": ["wiki", "lee"]},
    "dim300": {"w2v": {"vector_size": 300}},
    "window10": {"w2v": {"window": 10}},
    # classifier regularization per fit (bench/RESULTS-cv.md); "uncapped" = the defaults before the cap.
    # These predate classifier.l2_normalize (default true since): "l2_normalize": False reproduces their rows.
    "uncapped": {"clf": {"alpha_max_per_row": None, "l2_normalize": False}},
    "cap0.15": {"clf": {"alpha_max_per_row": 0.15, "l2_normalize": False}},
    "cap0.3": {"clf": {"alpha_max_per_row": 0.3, "l2_normalize": False}},
    "cap0.6": {"clf": {"alpha_max_per_row": 0.6, "l2_normalize": False}},
    "cv_g3": {"clf": {"alpha_max_per_row": None, "alpha_grid": [0.1, 1, 10], "l2_normalize": False}},
    "cv_g4": {"clf": {"alpha_max_per_row": None, "alpha_grid": [0.1, 1, 3, 10], "l2_normalize": False}},
    "cap0.3_cv_g3": {"clf": {"alpha_max_per_row": 0.3, "alpha_grid": [1, 3, 10], "l2_normalize": False}},
    # bench/RESULTS-cv.md "Sentence-vector length, ensembles, hidden size, two components": measured against
    # the defaults of the time ("l2_off" = those defaults now); "l2" is the same as today's defaults
    "l2_off": {"clf": {"l2_normalize": False}},
    "l2": {"post": {"l2": True}, "clf": {"l2_normalize": False}},
    "l2_nostd": {"post": {"l2": True}, "clf": {"standardize": False, "l2_normalize": False}},
    "l2_nostd_s17": {"post": {"l2": True, "l2_scale": 17.32}, "clf": {"standardize": False, "l2_normalize": False}},
    "ens5": {"post": {"ensemble": 5}, "clf": {"l2_normalize": False}},
    "pc2": {"post": {"components": 2}, "clf": {"l2_normalize": False}},
    "h8": {"clf": {"hidden_layer_sizes": [8], "l2_normalize": False}},
    "h16": {"clf": {"hidden_layer_sizes": [16], "l2_normalize": False}},
}


class Ensemble:
    """k fitted pipelines; ``predict`` = argmax of the mean ``predict_proba`` (same class order)."""

    def __init__(self, members):
        self.members = members
        self.classes_ = members[0].classes_

    def predict(self, X):
        proba = np.mean([m.predict_proba(X) for m in self.members], axis=0)
        return self.classes_[np.argmax(proba, axis=1)]


def top_components(vectors: np.ndarray, k: int) -> np.ndarray:
    """k x dim: the top k uncentered principal directions (eigenvectors of X'X), as first_component."""
    usable = vectors[np.abs(vectors).sum(axis=1) > 0].astype(np.float64)
    _, eigenvectors = np.linalg.eigh(usable.T @ usable)
    return eigenvectors[:, ::-1][:, :k].T.astype(np.float32)


POOL: list[np.ndarray] = [np.zeros((0, 0), np.float32)]
"""Unlabeled sentence vectors (pretraining corpus, never test) for the "self_train" lever."""


def patched(post: dict):
    """(sentence_vectors, fit_component, fit) implementing the "post" levers; the originals when empty."""
    from tasks.train import fit as plain_fit

    k_pc, l2, scale, k_ens = post.get("components", 1), post.get("l2", False), post.get("l2_scale", 1.0), post.get("ensemble", 1)

    def vectors(tokens, vocabulary, matrix, counts, config, component=None):
        if component is not None and component.ndim == 2:
            out, known = sentence_vectors(tokens, vocabulary, matrix, counts, config, None)
            assert config.pooling == "mean"
            out = (out - (out @ component.T) @ component).astype(np.float32)
        else:
            out, known = sentence_vectors(tokens, vocabulary, matrix, counts, config, component)
        if l2:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = (scale * out / np.where(norms > 0, norms, 1)).astype(np.float32)
        return out, known

    def component_fn(tokens, vocabulary, matrix, counts, config, *args):
        if k_pc == 1 or not config.remove_component:
            return fit_component(tokens, vocabulary, matrix, counts, config, *args)
        plain = config.model_copy(update={"pooling": "mean", "remove_component": False})
        return top_components(sentence_vectors(tokens, vocabulary, matrix, counts, plain)[0], k_pc)

    calls = [0]

    def fit_fn(X, y, config):
        calls[0] += 1
        if post.get("self_train") and calls[0] % 2 == 1:  # the pretrained arm: self-training on the pool
            from sklearn.semi_supervised import SelfTrainingClassifier

            from tasks.train import make_classifier
            st = post["self_train"]
            alpha = min(config.alpha, config.alpha_max_per_row * len(y)) if config.alpha_max_per_row else config.alpha
            base = make_classifier(config.model_copy(update={"alpha": alpha}))
            pool = POOL[0]
            model = SelfTrainingClassifier(base, threshold=st.get("threshold", 0.9), max_iter=st.get("rounds", 3),
                                           criterion="k_best" if st.get("k_best") else "threshold",
                                           k_best=st.get("k_best", 10))
            model.fit(np.vstack([X, pool]), np.concatenate([y, np.full(len(pool), -1, dtype=object)]).astype(object))
            return model, True
        if post.get("corpus_std") and calls[0] % 2 == 1:  # predict_all fits the pretrained arm first
            config = config.model_copy(update={"l2_normalize": False, "standardize": False})
        if k_ens == 1:
            return plain_fit(X, y, config)
        fits = [plain_fit(X, y, config.model_copy(update={"random_state": config.random_state + 1000 * j}))
                for j in range(k_ens)]
        return Ensemble([m for m, _ in fits]), all(c for _, c in fits)

    return vectors, component_fn, fit_fn


def pretrained_fit(fit_fn):
    """tasks.train.fit_pretrained with its labels-only fit done by ``fit_fn`` (the "post" levers)."""
    from fewlabel import pseudo
    from tasks.train import fit as plain_fit

    def fit_pretrained(X, y, config, pool, documents):
        base, converged = fit_fn(X, y, config)
        refit = config.model_copy(update={"alpha_grid": ()})
        model, record = pseudo.fit_with_documents(base, X, y, pool, documents, lambda a, b: plain_fit(a, b, refit)[0],
                                                  config.pseudo_documents, config.pseudo_rounds, config.pseudo_weight,
                                                  config.pseudo_min_lines)
        return model, base, converged, {"pseudo": record}
    return fit_pretrained


def prepare(extra: list[str]):
    """(unlabeled token lists, train dict, test dict, each unlabeled line's document) as the curve flow
    builds them (a document is a review: origin + row)."""
    reviews, labeled = read_mr()
    train, test = split(labeled, DataConfig())
    unlabeled = with_extra(reviews, extra)
    test_texts = set(test["text"].str.strip())
    unlabeled = unlabeled[~unlabeled["text"].str.strip().isin(test_texts)]
    pre = PreprocessConfig()
    lines = split_lines(pa.Table.from_pandas(unlabeled[["text", "origin", "row"]], preserve_index=False))
    unl_tokens = tokenize(lines["text"], pre)
    splits = {}
    for name, frame in (("train", train), ("test", test)):
        arr = tokenize(pa.array(frame["text"].tolist(), pa.string()), pre)
        splits[name] = {"labels": np.asarray(frame["label"].tolist(), dtype=object),
                        "tokens": arr.to_pylist(), "token_array": arr}
    documents = np.unique(np.stack([lines["origin"].to_numpy(zero_copy_only=False).astype(str),
                                    lines["row"].to_numpy().astype(str)], axis=1), axis=0, return_inverse=True)[1]
    return unl_tokens, splits["train"], splits["test"], documents.ravel()


def pretrained_table(unl_tokens: pa.ListArray, train: dict, w2v: Word2VecConfig, extra: list[str]) -> pa.Table:
    key = hashlib.sha256(json.dumps([w2v.model_dump(mode="json"), extra], sort_keys=True).encode()).hexdigest()[:16]
    path = ROOT / "data" / "bench" / f"vectors-{key}.parquet"
    if path.exists():
        return pq.read_table(path)
    corpus = unl_tokens.to_pylist() + train["tokens"]
    t0 = time.perf_counter()
    table = vectors_table(fit_word2vec(corpus, w2v), w2v.vector_size)
    print(f"# pretrain {len(corpus)} sentences, {sum(map(len, corpus))} words, vocabulary {len(table)}, "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table


def joined_tables(tables: list[pa.Table]) -> pa.Table:
    """One vectors table: the first table's words and counts, each word's vectors of every table
    concatenated (zeros where a table lacks the word), each table's vectors scaled to unit mean norm."""
    words = tables[0]["token"].to_pylist()
    parts = []
    for t in tables:
        vocabulary, matrix = embedding(t)
        matrix = matrix / np.linalg.norm(matrix, axis=1).mean()
        index = {w: i for i, w in enumerate(vocabulary.to_pylist())}
        rows = np.array([index.get(w, -1) for w in words])
        parts.append(np.where(rows[:, None] >= 0, matrix[np.maximum(rows, 0)], 0).astype(np.float32))
    joined = np.hstack(parts)
    return pa.table({"token": tables[0]["token"], "count": tables[0]["count"],
                     "vector": pa.FixedSizeListArray.from_arrays(pa.array(joined.ravel()), joined.shape[1])})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--n", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--configs", nargs="*", default=[], help=f"names among {', '.join(CONFIGS)}")
    parser.add_argument("--spec", nargs="+", default=[], metavar="NAME=JSON",
                        help='ad-hoc configs, e.g. sif_a3=\'{"vec": {"weighting": "sif"}, "clf": {"alpha": 3}}\'')
    parser.add_argument("--json", type=Path, help="append every per-draw accuracy here (JSON lines)")
    parser.add_argument("--baseline", help="a config of this call: print paired differences against it")
    args = parser.parse_args()
    for item in args.spec:
        name, _, raw = item.partition("=")
        CONFIGS[name] = json.loads(raw)
        args.configs.append(name)
    prepared, results = {}, {}
    print("| config | method | " + " | ".join(f"N={n}" for n in args.n) + " | seconds |", flush=True)
    for name in args.configs:
        spec = CONFIGS[name]
        t0 = time.perf_counter()
        extra = spec.get("extra", [])
        if tuple(extra) not in prepared:
            prepared[tuple(extra)] = prepare(extra)
        unl_tokens, train, test, documents = prepared[tuple(extra)]
        w2v, vec = Word2VecConfig(**spec.get("w2v", {})), VectorizeConfig(**spec.get("vec", {}))
        clf, curve = ClassifierConfig(**spec.get("clf", {})), CurveConfig(**spec.get("curve", {}))
        table = pretrained_table(unl_tokens, train, w2v, extra)
        if spec.get("tables"):  # other pretrained vector files (e.g. from bench/doc_word2vec.py), concatenated
            table = joined_tables([table if t == "default" else pq.read_table(t) for t in spec["tables"]])
        vectors_fn, component_fn, fit_fn = patched(spec.get("post", {}))
        curve_module.sentence_vectors, curve_module.fit_component, curve_module.fit = vectors_fn, component_fn, fit_fn
        curve_module.fit_pretrained = pretrained_fit(fit_fn)
        own = (*embedding(table), counts_of(table))
        corpus = pa.chunked_array([a.cast(pa.list_(pa.string())) for a in (unl_tokens, train["token_array"])])
        component = component_fn(corpus, *own, vec)
        train = {**train, "vectors": vectors_fn(train["token_array"], *own, vec, component)[0]}
        test = {**test, "vectors": vectors_fn(test["token_array"], *own, vec, component)[0]}
        unlabeled = {"vectors": vectors_fn(unl_tokens.cast(pa.list_(pa.string())), *own, vec, component)[0],
                     "documents": documents}
        if spec.get("post", {}).get("self_train"):
            size = spec["post"]["self_train"].get("pool", 2000)
            keep = np.random.default_rng(0).choice(len(corpus), size, replace=False)
            POOL[0] = vectors_fn(corpus.take(pa.array(np.sort(keep))), *own, vec, component)[0]
        if spec.get("post", {}).get("corpus_std"):
            def unit(x):
                norms = np.linalg.norm(x, axis=1, keepdims=True)
                return x / np.where(norms > 0, norms, 1)
            post = spec["post"]
            reference = unit(vectors_fn(corpus, *own, vec, component)[0].astype(np.float64))
            mu, sd = reference.mean(axis=0), reference.std(axis=0)
            sd = np.where(sd > 0, sd, 1)
            project = None
            if post.get("pca"):  # top principal directions of the standardized corpus vectors
                z = (reference - mu) / sd
                values, vectors = np.linalg.eigh(z.T @ z / len(z))
                keep = np.argsort(values)[::-1][:post["pca"]]
                project = vectors[:, keep] / (np.sqrt(values[keep]) if post.get("whiten") else 1)

            def transform(x):
                z = (unit(x.astype(np.float64)) - mu) / (1 if post.get("center_only") else sd)
                z = z @ project if project is not None else z
                return (unit(z) * np.sqrt(z.shape[1]) if post.get("renorm") else z).astype(np.float32)
            train = {**train, "vectors": transform(train["vectors"])}
            test = {**test, "vectors": transform(test["vectors"])}
            unlabeled = {**unlabeled, "vectors": transform(unlabeled["vectors"])}
        acc: dict[tuple[str, int], list[float]] = {}
        for n in args.n:
            for d in range(args.draws):
                idx = draw(train["labels"], n, np.random.default_rng([d, n]))
                for method, pred in predict_all(train, test, unlabeled, idx, clf, w2v, curve, d, vec).items():
                    acc.setdefault((method, n), []).append(float((pred == test["labels"]).mean()))
        seconds = time.perf_counter() - t0
        for method in [m for m in curve_module.METHODS if (m, args.n[0]) in acc]:
            cells = [f"{np.mean(acc[method, n]):.4f} ± {np.std(acc[method, n], ddof=1):.4f}" for n in args.n]
            print(f"| {name} | {method} | " + " | ".join(cells) + f" | {seconds:.0f} |", flush=True)
        results[name] = acc
        if args.json:
            with args.json.open("a") as fh:
                fh.write(json.dumps({"config": name, "spec": spec, "seconds": seconds,
                                     "acc": {f"{m}@{n}": v for (m, n), v in acc.items()}}) + "\n")
    if args.baseline in results:
        base = results[args.baseline]
        print("\n| config − " + args.baseline + " | arm | " + " | ".join(f"N={n}" for n in args.n) + " |")
        for name, acc in results.items():
            for method in ("pretrained", "no_pretraining") if name != args.baseline else ():
                cells = []
                for n in args.n:
                    d = np.subtract(acc[method, n], base[method, n])
                    cells.append(f"{d.mean():+.4f} ± {d.std(ddof=1):.4f} ({(d > 0).sum()}/{(d < 0).sum()})")
                print(f"| {name} | {method} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
