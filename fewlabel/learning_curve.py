"""Learning curve: accuracy against labels per class, over repeated random label draws.

One point (N labels per class: :func:`point_rows` of a :class:`fewlabel.specs.CurvePoint`) runs every
draw of every method on the same labels and the same fixed test split: the pretrained pipeline
(vectors from the cached pretrain stage, document pseudo-labels from the unlabeled text), the same
without pseudo-labels (``pretrained_labels_only``, only when they are on), no pretraining (Word2Vec
retrained on the drawn sentences only, no unlabeled text at all), TF-IDF + logistic regression, and
the majority class. The points are then gathered
into a tidy table, a summary with mean, std and t-intervals, and a PNG plot (:func:`summarize`,
:func:`plot`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import accuracy_score, f1_score
from sklearn.preprocessing import normalize
from sklearn.semi_supervised import LabelSpreading

from fewlabel import catalog, stats, store
from fewlabel.config import ClassifierConfig, VectorizeConfig, Word2VecConfig
from fewlabel.fitting import on_one_blas_thread
from fewlabel.lexical import fit_tfidf_lr
from fewlabel.metrics import majority_label
from fewlabel.model import check_pseudo, fit, fit_with_pseudo, seeded
from fewlabel.specs import CurvePoint
from fewlabel.vectors import counts_of, embedding, fit_component, matrix_of, sentence_vectors
from fewlabel.word2vec import fit_ensemble, vectors_table

METHODS = {
    "pretrained": "pretrained Word2Vec + {classifier} + document pseudo-labels if the safeguard keeps them",
    "pretrained_pseudo": "pretrained Word2Vec + {classifier} + document pseudo-labels, always (no safeguard)",
    "pretrained_labels_only": "pretrained Word2Vec + {classifier}, labels only",
    "label_spreading": "pretrained Word2Vec + label spreading over labeled and unlabeled sentences",
    "no_pretraining": "no pretraining + {classifier}",
    "tfidf_lr": "TF-IDF + logistic regression",
    "majority": "majority class",
}
"""The curve's methods as the plot names them, with the configured classifier kind's title
(:func:`fewlabel.classifiers.title`: "MLP", "logistic regression")."""
log = logging.getLogger(__name__)


def draw(labels: np.ndarray, n: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of n examples per class (all of them for None)."""
    if n is None:
        return np.arange(len(labels))
    picks = [rng.choice(np.flatnonzero(labels == c), size=n, replace=False) for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


@on_one_blas_thread
def predict_all(
    train: dict,
    test: dict,
    unlabeled: dict,
    idx: np.ndarray,
    classifier: ClassifierConfig,
    word2vec: Word2VecConfig,
    tfidf_C: float,
    seed: int,
    vectorize: VectorizeConfig = VectorizeConfig(),
    spreading: bool = False,
) -> tuple[dict[str, np.ndarray], bool]:
    """Test predictions of every method trained on the examples ``idx``.

    The pretrained arm adds document pseudo-labels from ``unlabeled`` (``{"vectors", "documents"}``;
    its labels-only model is reported too when they are used, and with the safeguard on, the
    pseudo-labeled model as if it had kept them: ``pretrained_pseudo``). Returns (predictions by
    method, whether the safeguard kept the pseudo-labels). The no-pretraining arm turns sentences
    into vectors as the pretrained features were (``vectorize``: weighting from its own corpus counts,
    common component from the drawn sentences, pooling). BLAS runs on one thread (every product here is
    small: :func:`fewlabel.fitting.one_blas_thread`).
    """
    y = train["labels"][idx]
    classifier = seeded(classifier, seed)
    X = train["vectors"][idx]
    labels_only, _, _, pseudo_model, _, _ = fit_with_pseudo(
        X, y, classifier, unlabeled["vectors"], unlabeled["documents"]
    )
    pretrained, kept = pseudo_model, pseudo_model is not labels_only
    if kept and classifier.pseudo_check_folds:
        kept = check_pseudo(X, y, classifier, unlabeled["vectors"], unlabeled["documents"])["use"]
        pretrained = pseudo_model if kept else labels_only
    sentences = [train["tokens"][i] for i in idx]
    table = vectors_table(fit_ensemble(sentences, word2vec), word2vec.vector_size)  # as the pretraining
    own = (*embedding(table), counts_of(table))
    drawn = pa.array(sentences, pa.list_(pa.string()))
    component = fit_component(drawn, *own, vectorize)
    own_train, _ = sentence_vectors(drawn, *own, vectorize, component)
    own_test, _ = sentence_vectors(test["token_array"], *own, vectorize, component)
    baseline, _ = fit(own_train, y, classifier)
    lexical = fit_tfidf_lr(sentences, y, tfidf_C)
    predictions = {
        "pretrained": pretrained.predict(test["vectors"]),
        "pretrained_pseudo": pseudo_model.predict(test["vectors"]),
        "pretrained_labels_only": labels_only.predict(test["vectors"]),
        "no_pretraining": baseline.predict(own_test),
        "tfidf_lr": lexical.predict(test["tokens"]),
        "majority": np.full(len(test["labels"]), majority_label(list(y)), dtype=object),
    }
    if spreading:
        rest = np.setdiff1d(np.arange(len(train["labels"])), idx)  # the training pool's other texts, unlabeled
        predictions["label_spreading"] = spread(
            X, y, train["vectors"][rest], unlabeled["vectors"], test["vectors"], seed
        )
    if pseudo_model is labels_only:  # no pseudo-labels: the same model three times
        del predictions["pretrained_labels_only"], predictions["pretrained_pseudo"]
    elif not classifier.pseudo_check_folds:  # no safeguard: pretrained is pretrained_pseudo
        del predictions["pretrained_pseudo"]
    return predictions, kept


SPREADING_POOL = 5_000
"""At most this many unlabeled sentences join the label-spreading graph (a seeded sample)."""


def spread(
    X: np.ndarray, y: np.ndarray, rest: np.ndarray, corpus: np.ndarray, test: np.ndarray, seed: int
) -> np.ndarray:
    """Test predictions of scikit-learn's LabelSpreading (k-nearest-neighbour graph, its default settings)
    over the labeled rows and a seeded sample of at most :data:`SPREADING_POOL` unlabeled sentences (the
    training pool's other texts first, then corpus lines); rows scaled to unit length (cosine
    neighbours). The test sentences take no part in the graph: each is labeled from its neighbours."""
    rng = np.random.default_rng(seed)
    pool = np.vstack([rest, corpus]) if len(corpus) else rest
    if len(pool) > SPREADING_POOL:
        pool = pool[np.sort(rng.choice(len(pool), SPREADING_POOL, replace=False))]
    classes = np.unique(y)
    codes = np.concatenate([np.searchsorted(classes, y), np.full(len(pool), -1)])
    model = LabelSpreading(kernel="knn", n_neighbors=7).fit(normalize(np.vstack([X, pool])), codes)
    return classes[model.predict(normalize(test))]


def load_split(features: store.Ref, tokens: store.Ref, split: str) -> dict:
    table = store.read_table(features, catalog.SPLITS[split], ["label", "pretrained"])
    token_array = store.read_table(tokens, catalog.SPLITS[split], ["tokens"])["tokens"].combine_chunks()
    return {
        "labels": np.asarray(table["label"].to_pylist(), dtype=object),
        "vectors": matrix_of(table, "pretrained"),
        "tokens": token_array.to_pylist(),
        "token_array": token_array,
    }


POINTS = pa.schema(
    [
        ("method", pa.string()),
        ("split", pa.int64()),
        ("point", pa.string()),
        ("labels", pa.int64()),
        ("draw", pa.int64()),
        ("accuracy", pa.float64()),
        ("macro_f1", pa.float64()),
    ]
)
"""One row per (method, draw) of a point: the tidy table of the curve."""


def point_rows(*, features: store.Ref, tokens: store.Ref, point: CurvePoint) -> tuple[pa.Table, dict]:
    """Every draw of every method at one point of the curve (:class:`fewlabel.specs.CurvePoint`), from the
    ``features`` (vectorize) and ``tokens`` (preprocess) artifacts: (:data:`POINTS` table, counts)."""
    train, test = load_split(features, tokens, "train"), load_split(features, tokens, "test")
    pool = store.read_table(features, catalog.UNLABELED)
    unlabeled = {"vectors": matrix_of(pool, "pretrained"), "documents": pool["document"].to_numpy()}
    n = None if point.labels_per_class == "all" else int(point.labels_per_class)
    vectorize = VectorizeConfig(**features["stats"].get("config", {}))  # how the pretrained features were made
    smallest = int(pd.Series(train["labels"]).value_counts().min())
    rows, kept = [], 0
    if n is not None and n > smallest:
        log.warning("curve: skipping %s labels per class: the smallest class has %d", n, smallest)
    else:
        for d in range(point.draws):
            start = time.perf_counter()
            draw_seed = point.seed * 100_003 + d
            idx = draw(train["labels"], n, np.random.default_rng([draw_seed, n or 0]))
            predictions, used = predict_all(
                train=train,
                test=test,
                unlabeled=unlabeled,
                idx=idx,
                classifier=point.classifier,
                word2vec=point.word2vec,
                tfidf_C=point.tfidf_C,
                seed=draw_seed,
                vectorize=vectorize,
                spreading=point.spreading,
            )
            kept += used
            log.info(
                "learning curve, %s labels per class: draw %d/%d in %.1f s",
                point.labels_per_class,
                d + 1,
                point.draws,
                time.perf_counter() - start,
            )
            for method, pred in predictions.items():
                rows.append(
                    {
                        "method": method,
                        "split": point.split,
                        "point": str(point.labels_per_class),
                        "labels": len(idx),
                        "draw": d,
                        "accuracy": float(accuracy_score(test["labels"], pred)),
                        "macro_f1": float(f1_score(test["labels"], pred, average="macro", zero_division=0)),
                    }
                )
    classes = len(np.unique(train["labels"]))
    counts = {
        "point": str(point.labels_per_class),
        "split": point.split,
        "rows": len(rows),
        "skipped": not rows,
        "classes": classes,
        "pseudo_kept_draws": kept,
    }
    return pa.Table.from_pylist(rows, schema=POINTS), counts


def summarize(points: pd.DataFrame, classes: int, confidence: float) -> pd.DataFrame:
    """Mean, std and t-interval of accuracy per (method, point), over every split and draw; with several
    test splits also the spread of the per-split means (``split_std``) and the mean within-split std over
    draws (``draw_std``). The interval is clipped to [0, 1], where an accuracy lies: with few draws a
    t-interval runs past them (2 draws: the t quantile is 12.7)."""
    out = []
    if "split" not in points:
        points = points.assign(split=0)
    for (method, point), group in points.groupby(["method", "point"], sort=False):
        mean, std, low, high = stats.mean_interval(group["accuracy"].to_numpy(), confidence)
        per_split = group.groupby("split")["accuracy"]
        means = per_split.mean()
        out.append(
            {
                "method": method,
                "n_per_class": point,
                "labels": int(group["labels"].iloc[0]),
                "mean": mean,
                "std": std,
                "ci_low": min(max(low, 0.0), 1.0),
                "ci_high": min(max(high, 0.0), 1.0),
                "draws": len(group),
                "splits": len(means),
                "split_std": float(means.std(ddof=1)) if len(means) > 1 else 0.0,
                "draw_std": float(per_split.std(ddof=1).fillna(0.0).mean()),
                "macro_f1_mean": float(group["macro_f1"].mean()),
            }
        )
    frame = pd.DataFrame(out)
    frame["x"] = frame["labels"] / classes
    return frame.sort_values(["method", "x"]).reset_index(drop=True)


def plot(summary: pd.DataFrame, path: Path, title: str, classifier: str) -> None:
    """Accuracy against labels per class (log scale), one line and interval band per method (named with
    the classifier's title ``classifier``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5.2), dpi=120, layout="constrained")
    for method in METHODS:
        part = summary[summary["method"] == method]
        if part.empty:
            continue
        ax.plot(part["x"], part["mean"], marker="o", label=METHODS[method].format(classifier=classifier))
        ax.fill_between(part["x"], part["ci_low"], part["ci_high"], alpha=0.2)
    ax.set_xscale("log", base=2)
    ticks = summary.drop_duplicates("x").sort_values("x")
    ax.set_xticks(ticks["x"], [str(p) for p in ticks["n_per_class"]])
    ax.set_xlabel("labels per class")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # one column: the methods' names are long; the picture grows to hold the legend, never cuts it
    fig.legend(loc="outside lower center", ncols=1, fontsize="small")
    fig.savefig(path, format="png", metadata={"Software": None}, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)


def summary_records(summary: pd.DataFrame) -> list[dict]:
    """The summary as JSON-able records (``n_per_class`` an int, or "all")."""
    return [
        {
            "method": r.method,
            "n_per_class": r.n_per_class if r.n_per_class == "all" else int(r.n_per_class),
            "mean": r.mean,
            "std": r.std,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "draws": int(r.draws),
            "splits": int(r.splits),
            "split_std": r.split_std,
            "draw_std": r.draw_std,
        }
        for r in summary.itertuples()
    ]
