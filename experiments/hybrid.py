"""Hybrid default candidates (issue 27): the pretrained pipeline combined with a lexical model, scored on
development splits next to the curve's own arms, on the very draws the curve makes.

    .venv/bin/python experiments/hybrid.py run --name nl-bol --curve logs/build_nl-bol.out [--draws 10]
    .venv/bin/python experiments/hybrid.py run --name mr --curve logs/build_mr.out --arms joint joint_cv
    .venv/bin/python experiments/hybrid.py rules [--tag default]
    .venv/bin/python experiments/hybrid.py report [--tag default] > table.md
    .venv/bin/python experiments/hybrid.py families [--tag default]     # the readable tables of hybrid.md

``run`` reads the curve artifacts a ``fewlabel curve --json --set data.development=true ...`` run built
(the ``--curve`` file is that run's stdout: its last line names the curve report; the report's points
name their vectorize and preprocess artifacts, which hold each split's features and tokens). For every
split, N and draw it draws the labels as ``fewlabel.learning_curve.point_rows`` does (same seeds), calls
``fewlabel.learning_curve.predict_all`` for the curve's arms (pretrained, no_pretraining, tfidf_lr), then
fits the candidates on the same labels. In the development mode the artifacts' "test" split is the
development split (the test split is set aside unread by the flow); nothing of it is read before the
candidates are fitted and their per-fit choices made: every per-fit choice below comes from stratified
k-fold cross-validation on the drawn labels alone (k = min(--folds, smallest class count)).

Arms (``pretrained`` is the curve's pretrained arm; with ``classifier.pseudo_documents=0``, as used on MR
here, it is the labels-only MLP):

- ``lex_uni``: TF-IDF + LR exactly as the baseline arm (unigrams, C = curve.tfidf_C), refitted here to get
  probabilities (its predictions are checked equal to ``tfidf_lr``'s); ``lex_bi``: the same on unigrams +
  bigrams; ``lex_cv``: unigrams + bigrams, C among :data:`C_GRID` by CV (ties: the smallest C).
- ``vote_*``: soft vote w * P(pretrained) + (1 - w) * P(lexical), w among :data:`W_GRID` by CV on the
  labels (``vote``: ties to the largest w, the pretrained side; ``vote_ll``: ties broken by the held-out
  log-loss of the vote, then the largest w); ``votez_*``: the same over the two models' log-odds, each
  divided by the standard deviation of its own out-of-fold log-odds (the two models' confidence scales
  differ: TF-IDF + LR with C=1 on 8 rows stays near 0.5).
- ``fixed_<w>`` / ``fixedz_<w>``: the same votes with w fixed in advance (no per-fit choice).
- ``stack_*``: a logistic regression over the two models' out-of-fold log-odds (hand-rolled stacking on
  the same folds), applied to the full models' log-odds.
- ``joint``: one LR over [TF-IDF unigrams+bigrams (rows of unit length), b * standardized unit sentence
  vectors / sqrt(dimensions)], b = 1, C = 1; ``joint_cv``: (b, C) among :data:`JOINT_GRID` by CV.

Each fit's choices and the CV scores they came from are written to ``data/experiments/hybrid/`` with
the accuracies, and the process CPU seconds of each part.

``run --arms joint joint_cv`` scores only those arms (:func:`joint_fit`: the same draws, folds, grid and
ties as in :func:`hybrid_fit`), without the curve's arms or any other candidate, into
``<name>-<tag>-arms.jsonl`` under the same tag, so ``report`` and ``families`` merge its cells with the full
run's; an arm the full run already scored for that fit is recomputed and asserted equal, not written again.
``families`` prints each candidate family's best member (most cells within half a point of the better
baseline, then the mean margin), the plain arms, the ranking of the hybrid candidates and the accuracies.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler, normalize

from fewlabel import store
from fewlabel.config import ClassifierConfig, VectorizeConfig, Word2VecConfig
from fewlabel.learning_curve import draw, load_split, predict_all
from fewlabel.model import fit
from fewlabel.pseudo import select_documents
from fewlabel.vectors import matrix_of

W_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Weights of the pretrained model's probabilities in the soft vote (1 - w: the lexical model's)."""
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
"""C of the lexical LR for ``lex_cv``."""
JOINT_GRID = tuple((b, c) for b in (0.5, 1.0, 2.0) for c in (1.0, 10.0, 100.0))
"""(weight of the sentence-vector block, C) for ``joint_cv``."""
FIXED = (0.25, 0.5, 0.75)
"""Fixed weights scored for reference (no per-fit choice)."""
OUT = Path("data/experiments/hybrid")
EPS = 1e-9


def identity(tokens):
    return tokens


def unigrams_bigrams(tokens):
    return list(tokens) + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def lexical(sentences: list, y: np.ndarray, C: float, bigrams: bool):
    """TF-IDF (sublinear tf, as the baseline arm) + LogisticRegression(C, max_iter=2000)."""
    vec = TfidfVectorizer(analyzer=unigrams_bigrams if bigrams else identity, sublinear_tf=True)
    lr = LogisticRegression(C=C, max_iter=2000).fit(vec.fit_transform(sentences), y)
    return vec, lr


def lex_proba(model, sentences: list) -> np.ndarray:
    vec, lr = model
    return lr.predict_proba(vec.transform(sentences))


class Joint:
    """One LR over the TF-IDF block and the scaled sentence-vector block (fitted on the drawn rows only)."""

    def __init__(self, sentences, X, y, b, C):
        self.vec = TfidfVectorizer(analyzer=unigrams_bigrams, sublinear_tf=True)
        self.scale = StandardScaler().fit(normalize(X))
        self.b = b / np.sqrt(X.shape[1])
        self.lr = LogisticRegression(C=C, max_iter=2000).fit(self._features(sentences, X, fit=True), y)
        self.classes_ = self.lr.classes_

    def _features(self, sentences, X, fit=False):
        text = self.vec.fit_transform(sentences) if fit else self.vec.transform(sentences)
        dense = self.b * self.scale.transform(normalize(X))
        return sparse.hstack([text, sparse.csr_matrix(dense)]).tocsr()

    def predict_proba(self, sentences, X):
        return self.lr.predict_proba(self._features(sentences, X))


def log_odds(proba: np.ndarray) -> np.ndarray:
    """Per-class log-probabilities centred per row (for two classes: +-half the log-odds)."""
    logp = np.log(np.clip(proba, EPS, 1.0))
    return logp - logp.mean(axis=1, keepdims=True)


def right_and_loss(proba: np.ndarray, codes: np.ndarray) -> tuple[int, float]:
    right = int(np.sum(proba.argmax(axis=1) == codes))
    return right, float(-np.log(np.clip(proba[np.arange(len(codes)), codes], EPS, None)).sum())


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def choose_weight(oof_p, oof_l, codes, z=False, by_loss=False) -> tuple[float, dict, tuple]:
    """The soft-vote weight with the best out-of-fold accuracy (ties: lower log-loss if ``by_loss``, then
    the largest w); (w, {w: [right, log-loss]}, scales)."""
    scales = (1.0, 1.0)
    if z:
        scales = (float(log_odds(oof_p).std()) + EPS, float(log_odds(oof_l).std()) + EPS)
    scores = {}
    for w in W_GRID:
        right, loss = right_and_loss(combine(oof_p, oof_l, w, z, scales), codes)
        scores[w] = [right, round(loss / len(codes), 4)]
    best = max(r for r, _ in scores.values())
    tied = [w for w in W_GRID if scores[w][0] == best]
    if by_loss:
        low = min(scores[w][1] for w in tied)
        tied = [w for w in tied if scores[w][1] <= low + 1e-12]
    return max(tied), scores, scales


def combine(p, lex, w, z=False, scales=(1.0, 1.0)):
    if not z:
        return w * p + (1 - w) * lex
    return softmax(2 * (w * log_odds(p) / scales[0] + (1 - w) * log_odds(lex) / scales[1]))


def nb_lr(sentences: list, y: np.ndarray, C: float):
    """NB-weighted LR (Wang and Manning 2012, without the SVM interpolation): binary unigram + bigram
    features scaled by the log-count ratio of the two classes (smoothing 1), then LogisticRegression(C).
    Two classes only."""
    vec = CountVectorizer(analyzer=unigrams_bigrams, binary=True)
    counts = vec.fit_transform(sentences)
    classes = np.unique(y)
    p = 1 + np.asarray(counts[y == classes[1]].sum(axis=0)).ravel()
    q = 1 + np.asarray(counts[y == classes[0]].sum(axis=0)).ravel()
    r = np.log((p / p.sum()) / (q / q.sum()))
    lr = LogisticRegression(C=C, max_iter=2000).fit(counts.multiply(r).tocsr(), y)
    return vec, r, lr


def nb_proba(model, sentences: list) -> np.ndarray:
    vec, r, lr = model
    return lr.predict_proba(vec.transform(sentences).multiply(r).tocsr())


def pretrained_proba(X, y, classifier, X_out):
    return fit(X, y, classifier)[0].predict_proba(X_out)


def lex_oof(sentences, y, C, bigrams, s_out):
    return lex_proba(lexical(sentences, y, C, bigrams), s_out)


def nb_oof(sentences, y, C, s_out):
    return nb_proba(nb_lr(sentences, y, C), s_out)


def joint_oof(sentences, X, y, b, C, s_out, X_out):
    return Joint(sentences, X, y, b, C).predict_proba(s_out, X_out)


REPEATS = 2
"""Repeats of the stratified k-fold (shuffle seeds random_state, random_state + 1): the out-of-fold
probabilities of every repeat are saved, so rules over one or both repeats can be compared offline."""


def hybrid_fit(
    train: dict,
    test: dict,
    idx: np.ndarray,
    classifier: ClassifierConfig,
    tfidf_C: float,
    folds: int,
    lean=False,
    minimal=False,
):
    """Every candidate on the labels ``idx``: (dev probabilities by model, dev predictions by candidate,
    the fit's record, out-of-fold probabilities, CPU seconds by part).

    Everything above the line marked below reads the drawn training rows only."""
    y = train["labels"][idx]
    classes = np.unique(y)
    codes = np.searchsorted(classes, y)
    X = train["vectors"][idx]
    sentences = [train["tokens"][i] for i in idx]
    binary = len(classes) == 2 and not minimal  # NB-LR: two classes only
    cpu: dict[str, float] = {}

    def timed(name, f, *args):
        t0 = time.process_time()
        out = f(*args)
        cpu[name] = cpu.get(name, 0.0) + time.process_time() - t0
        return out

    # full models on all drawn labels
    models = {
        "pretrained": timed("pretrained_fit", fit, X, y, classifier)[0],
        "uni": timed("lex_uni_fit", lexical, sentences, y, tfidf_C, False),
        "bi": timed("lex_bi_fit", lexical, sentences, y, tfidf_C, True),
    }
    if binary:
        models["nb"] = timed("nb_fit", nb_lr, sentences, y, tfidf_C)
    # cross-validation on the drawn labels
    _, counts = np.unique(y, return_counts=True)
    k = min(folds, int(counts.min()))
    record: dict = {"folds": k, "repeats": REPEATS}
    n = len(y)
    shape = (n, len(classes))
    bases = ["p", "uni", "bi", *(["nb"] if binary else [])]
    oof = [{b: np.zeros(shape) for b in bases} for _ in range(REPEATS)]
    oof_c = {c: np.zeros(shape) for c in C_GRID}
    oof_j = {g: np.zeros(shape) for g in JOINT_GRID}
    if k >= 2:
        for r in range(REPEATS):
            skf = StratifiedKFold(k, shuffle=True, random_state=classifier.random_state + r)
            for tr, held in skf.split(X, y):
                s_tr, s_held = [sentences[i] for i in tr], [sentences[i] for i in held]
                o = oof[r]
                o["p"][held] = timed("cv_pretrained", pretrained_proba, X[tr], y[tr], classifier, X[held])
                o["uni"][held] = timed("cv_lex_uni", lex_oof, s_tr, y[tr], tfidf_C, False, s_held)
                o["bi"][held] = timed("cv_lex_bi", lex_oof, s_tr, y[tr], tfidf_C, True, s_held)
                if binary:
                    o["nb"][held] = timed("cv_nb", nb_oof, s_tr, y[tr], tfidf_C, s_held)
                if r:
                    continue
                for c in () if minimal else C_GRID:
                    oof_c[c][held] = timed("cv_lex_bi_C", lex_oof, s_tr, y[tr], c, True, s_held)
                for g in () if lean else JOINT_GRID:
                    oof_j[g][held] = timed("cv_joint", joint_oof, s_tr, X[tr], y[tr], *g, s_held, X[held])
    # per-fit choices (drawn labels only, repeat 0's folds)
    choices: dict = {}
    lex_oofs = dict(oof[0])
    if k >= 2:
        if not minimal:
            right = {c: right_and_loss(oof_c[c], codes) for c in C_GRID}
            best = max(r for r, _ in right.values())
            c_best = min(c for c in C_GRID if right[c][0] == best)
            record["lex_cv"] = {"C": c_best, "scores": {str(c): right[c][0] for c in C_GRID}}
            lex_oofs["cv"] = oof_c[c_best]
        for lex in [b for b in lex_oofs if b != "p"]:
            for z in (False, True):
                for by_loss in (False, True):
                    name = f"vote{'z' if z else ''}{'_ll' if by_loss else ''}_{lex}"
                    w, scores, scales = choose_weight(oof[0]["p"], lex_oofs[lex], codes, z, by_loss)
                    choices[name] = (w, z, scales, lex)
                    record[name] = {"w": w, "scores": {str(k_): v for k_, v in scores.items()}, "scales": scales}
            meta_x = np.hstack([log_odds(oof[0]["p"]), log_odds(lex_oofs[lex])])
            choices[f"stack_{lex}"] = LogisticRegression(C=1.0, max_iter=2000).fit(meta_x, y)
            record[f"stack_{lex}"] = {"coef": np.round(choices[f"stack_{lex}"].coef_, 3).tolist()}
        if not lean:
            right_j = {g: right_and_loss(oof_j[g], codes)[0] for g in JOINT_GRID}
            best = max(right_j.values())
            g_best = max((g for g in JOINT_GRID if right_j[g] == best), key=lambda g: (g[0], -g[1]))
            record["joint_cv"] = {"b": g_best[0], "C": g_best[1], "scores": {str(g): right_j[g] for g in JOINT_GRID}}
            choices["joint_cv"] = g_best
        record["oof_right"] = {m: right_and_loss(v, codes)[0] for m, v in lex_oofs.items()}
        record["held_out"] = n
    if not minimal:
        models["cv"] = timed("lex_cv_fit", lexical, sentences, y, record.get("lex_cv", {}).get("C", tfidf_C), True)
    joint = timed("joint_fit", Joint, sentences, X, y, 1.0, 1.0)
    joint_cv = timed("joint_cv_fit", Joint, sentences, X, y, *choices["joint_cv"]) if "joint_cv" in choices else joint
    # ---- from here on the development split is read (predictions only: every choice is made) ----
    dev_x, dev_s = test["vectors"], test["tokens"]
    proba = {"pretrained": models["pretrained"].predict_proba(dev_x)}
    for lex in [m for m in ("uni", "bi", "cv") if m in models]:
        proba[lex] = lex_proba(models[lex], dev_s)
    if binary:
        proba["nb"] = nb_proba(models["nb"], dev_s)
    out = {
        "lex_uni": proba["uni"],
        "lex_bi": proba["bi"],
        "pretrained_lo": proba["pretrained"],
        "joint": joint.predict_proba(dev_s, dev_x),
    }
    if binary:
        out["lex_nb"] = proba["nb"]
    if "cv" in proba:
        out["lex_cv"] = proba["cv"]
    if "joint_cv" in choices:
        out["joint_cv"] = joint_cv.predict_proba(dev_s, dev_x)
    for lex in [b for b in proba if b != "pretrained"]:
        for w in FIXED:
            out[f"fixed_{w}_{lex}"] = combine(proba["pretrained"], proba[lex], w)
            if k >= 2:
                scales = choices[f"votez_{lex}"][2]
                out[f"fixedz_{w}_{lex}"] = combine(proba["pretrained"], proba[lex], w, True, scales)
    for name, choice in choices.items():
        if name.startswith("vote"):
            w, z, scales, lex = choice
            out[name] = combine(proba["pretrained"], proba[lex], w, z, scales)
        elif name.startswith("stack"):
            lex = name.split("_", 1)[1]
            out[name] = choice.predict_proba(np.hstack([log_odds(proba["pretrained"]), log_odds(proba[lex])]))
    predictions = {m: classes[p.argmax(axis=1)] for m, p in out.items()}
    saved_oof = {f"oof{r}_{b}": v for r, o in enumerate(oof) for b, v in o.items()}
    if "cv" in lex_oofs:
        saved_oof["oof0_cv"] = lex_oofs["cv"]
    return proba, predictions, record, saved_oof, cpu


ARMS = ("joint", "joint_cv")
"""Arms ``run --arms`` can score alone (no curve arms, no other candidate: a fraction of the cost)."""


def joint_fit(train: dict, test: dict, idx: np.ndarray, random_state: int, folds: int):
    """``joint`` and ``joint_cv`` alone on the labels ``idx``, exactly as :func:`hybrid_fit` fits them (the
    same folds: StratifiedKFold(k, shuffle=True, random_state), k = min(folds, smallest class count); the
    same grid and ties: most held-out labels right, then the largest b, then the smallest C).
    (dev predictions by arm, the fit's record, CPU seconds by part). Everything above the marked line
    reads the drawn training rows only."""
    y = train["labels"][idx]
    classes = np.unique(y)
    codes = np.searchsorted(classes, y)
    X = train["vectors"][idx]
    sentences = [train["tokens"][i] for i in idx]
    t0 = time.process_time()
    _, counts = np.unique(y, return_counts=True)
    k = min(folds, int(counts.min()))
    record: dict = {"folds": k}
    g_best = None
    if k >= 2:
        oof_j = {g: np.zeros((len(y), len(classes))) for g in JOINT_GRID}
        for tr, held in StratifiedKFold(k, shuffle=True, random_state=random_state).split(X, y):
            s_tr, s_held = [sentences[i] for i in tr], [sentences[i] for i in held]
            for g in JOINT_GRID:
                oof_j[g][held] = joint_oof(s_tr, X[tr], y[tr], *g, s_held, X[held])
        right_j = {g: right_and_loss(oof_j[g], codes)[0] for g in JOINT_GRID}
        best = max(right_j.values())
        g_best = max((g for g in JOINT_GRID if right_j[g] == best), key=lambda g: (g[0], -g[1]))
        record["joint_cv"] = {"b": g_best[0], "C": g_best[1], "scores": {str(g): right_j[g] for g in JOINT_GRID}}
    cpu = {"cv_joint": time.process_time() - t0}
    t0 = time.process_time()
    joint = Joint(sentences, X, y, 1.0, 1.0)
    joint_cv = Joint(sentences, X, y, *g_best) if g_best else joint
    cpu["joint_fit"] = time.process_time() - t0
    # ---- from here on the development split is read (predictions only: every choice is made) ----
    out = {"joint": joint.predict_proba(test["tokens"], test["vectors"])}
    if g_best:
        out["joint_cv"] = joint_cv.predict_proba(test["tokens"], test["vectors"])
    return {m: classes[p.argmax(axis=1)] for m, p in out.items()}, record, cpu


SELF_SHARE = 0.2
"""Self-training probe: share of the unlabeled pool pseudo-labeled (each class its share of the labels)."""
SELF_CAP = 3000
"""At most this many of the training pool's other (unlabeled) texts, a seeded sample."""


def self_train(train: dict, test: dict, idx: np.ndarray, classifier: ClassifierConfig, tfidf_C: float) -> dict:
    """Self-training probe: the z-scaled vote of the pretrained MLP and TF-IDF + LR (each model's log-odds
    divided by their standard deviation over the unlabeled pool) labels the training pool's other texts
    (unlabeled: their labels are never read); the ``SELF_SHARE`` it is surest of, in the labels' class
    shares (``fewlabel.pseudo.select_documents``, each text its own document), join the labels and both
    models are refitted once. Returns dev probabilities by name (``st0_<w>``: the vote before, ``stlex_<w>``:
    with the refitted TF-IDF + LR, ``stboth_<w>``: both refitted, ``st_lex`` / ``st_pre``: the refitted
    models alone), and the CPU seconds."""
    t0 = time.process_time()
    y = train["labels"][idx]
    classes = np.unique(y)
    X = train["vectors"][idx]
    sentences = [train["tokens"][i] for i in idx]
    rest = np.setdiff1d(np.arange(len(train["labels"])), idx)
    if len(rest) > SELF_CAP:
        rest = np.sort(np.random.default_rng(classifier.random_state).choice(rest, SELF_CAP, replace=False))
    pool_x, pool_s = train["vectors"][rest], [train["tokens"][i] for i in rest]
    pre, lex = fit(X, y, classifier)[0], lexical(sentences, y, tfidf_C, False)

    def scales(p_model, l_model):
        p, q = p_model.predict_proba(pool_x), lex_proba(l_model, pool_s)
        return p, q, (float(log_odds(p).std()) + EPS, float(log_odds(q).std()) + EPS)

    pp, pq, sc = scales(pre, lex)
    prior = np.array([np.mean(y == c) for c in classes])
    chosen = select_documents(combine(pp, pq, 0.5, True, sc), prior, SELF_SHARE)
    keep = np.flatnonzero(chosen >= 0)
    y2 = np.concatenate([y, classes[chosen[keep]]])
    pre2 = fit(np.vstack([X, pool_x[keep]]), y2, classifier)[0]
    lex2 = lexical(sentences + [pool_s[i] for i in keep], y2, tfidf_C, False)
    _, _, sc_lex = scales(pre, lex2)
    _, _, sc_both = scales(pre2, lex2)
    cpu = time.process_time() - t0
    # ---- the development split is read from here on (predictions only) ----
    dev = {
        "pre": pre.predict_proba(test["vectors"]),
        "lex": lex_proba(lex, test["tokens"]),
        "pre2": pre2.predict_proba(test["vectors"]),
        "lex2": lex_proba(lex2, test["tokens"]),
    }
    out = {"st_pre": dev["pre2"], "st_lex": dev["lex2"]}
    for w in (0.25, 0.5):
        out[f"st0_{w}"] = combine(dev["pre"], dev["lex"], w, True, sc)
        out[f"stlex_{w}"] = combine(dev["pre"], dev["lex2"], w, True, sc_lex)
        out[f"stboth_{w}"] = combine(dev["pre2"], dev["lex2"], w, True, sc_both)
    return {"proba": out, "cpu": cpu, "pseudo": int(len(keep))}


def resolve(curve_out: Path) -> list[dict]:
    """The curve points of a ``fewlabel curve --json`` run (its stdout file): each with its params and the
    vectorize / preprocess Refs it read."""
    last = json.loads(curve_out.read_text().strip().splitlines()[-1])
    report = Path(last["table"]).parent
    shas = {p["sha256"] for p in json.loads((report / "manifest.json").read_text())["lineage"]["params"]["points"]}
    by_sha = {stage: {r["sha256"]: r for r in store.committed(stage)} for stage in ("curve", "vectorize", "preprocess")}
    points = []
    for sha in shas:
        ref = by_sha["curve"][sha]
        params = ref["lineage"]["params"]
        features = by_sha["vectorize"][params["features"]["sha256"]]
        tokens = by_sha["preprocess"][params["tokens"]["sha256"]]
        points.append(
            {
                "params": params,
                "features": store.load_ref("vectorize", features["key"]),
                "tokens": store.load_ref("preprocess", tokens["key"]),
                "curve": ref,
            }
        )
    return sorted(points, key=lambda p: (p["params"]["split"], int(p["params"]["labels_per_class"])))


def run(args) -> None:
    warnings.simplefilter("ignore", ConvergenceWarning)
    points = resolve(Path(args.curve))
    OUT.mkdir(parents=True, exist_ok=True)
    full: dict = {}  # (split, n, draw) -> accuracies of the full run's record, to check the arms' draws
    stem = OUT / f"{args.name}-{args.tag}"
    done = set()
    if stem.with_suffix(".jsonl").exists():  # resume: skip the fits already recorded
        for line in stem.with_suffix(".jsonl").read_text().splitlines():
            rec = json.loads(line)
            if not args.arms:
                done.add((rec["split"], rec["n"], rec["draw"]))
            elif all(a in rec["accuracy"] for a in args.arms):
                done.add((rec["split"], rec["n"], rec["draw"]))
            full[(rec["split"], rec["n"], rec["draw"])] = rec["accuracy"]
    if args.arms:  # a subset of the arms: its own file, same tag (report merges it), resumed the same way
        arms_file = OUT / f"{args.name}-{args.tag}-arms.jsonl"
        if arms_file.exists():
            for line in arms_file.read_text().splitlines():
                rec = json.loads(line)
                if all(a in rec["accuracy"] or a in rec["checked"] for a in args.arms):
                    done.add((rec["split"], rec["n"], rec["draw"]))
    loaded: dict = {}
    for point in points:
        params = point["params"]
        split, n = params["split"], int(params["labels_per_class"])
        if args.splits and split not in args.splits or args.n and n not in args.n:
            continue
        key = point["features"]["sha256"]
        if key not in loaded:
            loaded.clear()
            features, tokens = point["features"], point["tokens"]
            pool = None if args.arms else store.read_table(features, "unlabeled.parquet")
            loaded[key] = (
                load_split(features, tokens, "train"),
                load_split(features, tokens, "test"),
                None
                if pool is None
                else {"vectors": matrix_of(pool, "pretrained"), "documents": pool["document"].to_numpy()},
                VectorizeConfig(**features["stats"].get("config", {})),
            )
        train, test, unlabeled, vectorize = loaded[key]
        classifier = ClassifierConfig(**params["classifier"])
        word2vec = Word2VecConfig(**params["word2vec"])
        for d in range(args.draws):
            if (split, n, d) in done:
                continue
            draw_seed = params["seed"] * 100_003 + d  # as point_rows
            idx = draw(train["labels"], n, np.random.default_rng([draw_seed, n]))
            if args.arms:
                preds, record, cpu = joint_fit(train, test, idx, draw_seed, args.folds)
                acc = {m: float(np.mean(p == test["labels"])) for m, p in preds.items() if m in args.arms}
                earlier = full.get((split, n, d), {})
                for m in acc:  # the same labels and folds as the full run: the same accuracy where it has one
                    assert m not in earlier or abs(earlier[m] - acc[m]) < 1e-12, f"{m} differs from the full run"
                rec = {
                    "set": args.name,
                    "tag": args.tag,
                    "split": split,
                    "n": n,
                    "draw": d,
                    "arms": list(args.arms),
                    "accuracy": {m: v for m, v in acc.items() if m not in earlier},
                    "checked": {m: v for m, v in acc.items() if m in earlier},
                    "choices": record,
                    "cpu": cpu,
                }
                with arms_file.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(
                    f"{args.name} split {split} n {n} draw {d}: "
                    + " ".join(f"{m} {v:.3f}" for m, v in acc.items())
                    + f" (b, C) {tuple(record.get('joint_cv', {}).get(x) for x in 'bC')} cpu {sum(cpu.values()):.1f} s",
                    flush=True,
                )
                continue
            t0 = time.process_time()
            base, kept = predict_all(
                train, test, unlabeled, idx, classifier, word2vec, params["tfidf_C"], draw_seed, vectorize
            )
            curve_cpu = time.process_time() - t0
            fitted = classifier.model_copy(update={"random_state": draw_seed})
            proba, preds, record, saved_oof, cpu = hybrid_fit(
                train, test, idx, fitted, params["tfidf_C"], args.folds, args.lean, args.minimal
            )
            np.savez_compressed(
                stem.parent / f"{stem.name}-{split}-{n}-{d}.npz",
                classes=np.asarray(np.unique(train["labels"][idx]), dtype=str),
                y=np.asarray(train["labels"][idx], dtype=str),
                dev=np.asarray(test["labels"], dtype=str),
                **{f"dev_{m}": v.astype(np.float32) for m, v in proba.items()},
                **{m: v.astype(np.float32) for m, v in saved_oof.items()},
                **{f"base_{m}": np.asarray(base[m], dtype=str) for m in ("pretrained", "no_pretraining", "tfidf_lr")},
            )
            assert (preds["lex_uni"] == base["tfidf_lr"]).all(), "lex_uni must be the baseline arm"
            if fitted.pseudo_documents == 0 or "pretrained_labels_only" not in base:
                assert (preds["pretrained_lo"] == base["pretrained"]).all(), "labels-only MLP differs"
            if args.selftrain:
                st = self_train(train, test, idx, fitted, params["tfidf_C"])
                classes = np.unique(train["labels"][idx])
                preds.update({m: classes[p.argmax(axis=1)] for m, p in st["proba"].items()})
                cpu["self_train"] = st["cpu"]
                record["self_train_pseudo"] = st["pseudo"]
            preds.update({m: base[m] for m in ("pretrained", "no_pretraining", "tfidf_lr")})
            acc = {m: float(np.mean(p == test["labels"])) for m, p in preds.items()}
            rec = {
                "set": args.name,
                "tag": args.tag,
                "split": split,
                "n": n,
                "draw": d,
                "pseudo_kept": bool(kept),
                "accuracy": acc,
                "choices": record,
                "cpu": {**cpu, "curve_arms": curve_cpu},
            }
            with stem.with_suffix(".jsonl").open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(
                f"{args.name} split {split} n {n} draw {d}: pretrained {acc['pretrained']:.3f} "
                f"tfidf {acc['tfidf_lr']:.3f} vote_uni {acc.get('vote_uni', float('nan')):.3f} "
                f"(w {record.get('vote_uni', {}).get('w')}) cpu {sum(cpu.values()):.1f}+{curve_cpu:.1f} s",
                flush=True,
            )


def load(tag: str | None) -> pd.DataFrame:
    rows = []
    for path in sorted([*OUT.glob("*.jsonl"), *OUT.glob("*.rules")]):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if tag and rec["tag"] != tag:
                continue
            for method, acc in rec["accuracy"].items():
                rows.append(
                    {k: rec[k] for k in ("set", "tag", "split", "n", "draw")} | {"method": method, "accuracy": acc}
                )
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean over splits x draws and the std of the per-split means, per (set, tag, n, method)."""
    per_split = frame.groupby(["set", "tag", "n", "method", "split"])["accuracy"].mean()
    out = per_split.groupby(["set", "tag", "n", "method"]).agg(["mean", "std", "count"])
    draws = frame.groupby(["set", "tag", "n", "method"])["accuracy"].count().rename("fits")
    return out.join(draws).reset_index()


def report(args) -> None:
    frame = load(args.tag)
    table = summary(frame)
    cell = table.set_index(["set", "tag", "n", "method"])
    methods = args.methods or sorted(table["method"].unique())
    sets = [s for s in ("nl-bol", "fr-amazon", "uncertainty", "mr") if s in set(table["set"])]
    for tag in sorted(table["tag"].unique()):
        print(f"\n### tag {tag}\n")
        print("| data set | N | fits | " + " | ".join(methods) + " |")
        print("|---|---:|---:|" + "---:|" * len(methods))
        margins = {m: [] for m in methods}
        for s in sets:
            for n in sorted(table[(table["set"] == s) & (table["tag"] == tag)]["n"].unique()):
                base = max(cell.loc[(s, tag, n, b), "mean"] for b in ("tfidf_lr", "no_pretraining"))
                text = []
                for m in methods:
                    if (s, tag, n, m) not in cell.index:
                        text.append("–")
                        continue
                    r = cell.loc[(s, tag, n, m)]
                    margins[m].append(r["mean"] - base)
                    text.append(f"{r['mean']:.3f} ({r['std']:.3f}) {r['mean'] - base:+.3f}")
                fits = int(cell.loc[(s, tag, n, "pretrained"), "fits"])
                print(f"| {s} | {n} | {fits} | " + " | ".join(text) + " |")
        print("| mean margin | | | " + " | ".join(f"{np.mean(v):+.4f}" if v else "–" for v in margins.values()) + " |")
        print("| worst cell | | | " + " | ".join(f"{np.min(v):+.4f}" if v else "–" for v in margins.values()) + " |")
        print(
            "| cells >= -0.005 | | | "
            + " | ".join(f"{sum(x >= -0.005 for x in v)}/{len(v)}" if v else "–" for v in margins.values())
            + " |"
        )


FAMILIES = (
    ("lexical alone (bigrams, CV'd C, NB-LR)", r"^lex_(bi|cv|nb)$"),
    ("soft vote, fixed w", r"^(fixed_|R_fixed_(?!.*_z$))"),
    ("z-scored vote, fixed w", r"^(fixedz_|R_fixed_.*_z$)"),
    ("soft vote, w by CV", r"^(vote_|R_vote3?_(?!.*_z$))"),
    ("z-scored vote, w by CV", r"^(votez_|R_vote3?_.*_z$)"),
    ("z/soft vote, one-SE rule towards w0", r"^R_se_"),
    ("stacking (LR over out-of-fold log-odds)", r"^(stack_|R_stack_)"),
    ("joint LR, b = 1, C = 1", r"^joint$"),
    ("joint LR, (b, C) by CV", r"^joint_cv$"),
)
"""Candidate families of the ``families`` table (regular expressions over the method names)."""
PLAIN = ("pretrained", "pretrained_lo", "no_pretraining", "tfidf_lr")
TOLERANCE = 0.005
"""A cell counts as "within" when the margin over the better baseline is >= -TOLERANCE (half a point)."""


def margins(tag: str) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """(mean accuracy over splits, margin over the better of tfidf_lr and no_pretraining), methods x cells,
    over the cells of ``tag``; the cells (set, n) in the order nl-bol, fr-amazon, uncertainty, mr."""
    table = summary(load(tag))
    acc = table.pivot_table(index="method", columns=["set", "n"], values="mean")
    order = {s: i for i, s in enumerate(("nl-bol", "fr-amazon", "uncertainty", "mr"))}
    cells = sorted(acc.columns, key=lambda c: (order.get(c[0], 9), c[1]))
    acc = acc[cells]
    base = acc.loc[["tfidf_lr", "no_pretraining"]].max()
    return acc, acc - base, cells


def rank(margin: pd.DataFrame) -> pd.DataFrame:
    """Per method: cells within TOLERANCE, mean margin, worst cell; sorted by the default-choosing rule
    (most cells within, then the highest mean margin); methods missing a cell are left out."""
    full = margin.dropna()
    out = pd.DataFrame(
        {
            "within": (full >= -TOLERANCE).sum(axis=1),
            "mean": full.mean(axis=1),
            "worst": full.min(axis=1),
        }
    )
    return out.sort_values(["within", "mean"], ascending=[False, False])


def families(args) -> None:
    """Readable tables: per family its best member by the rule of :func:`rank`, the plain arms, accuracies."""
    acc, margin, cells = margins(args.tag)
    ranked = rank(margin)
    rows = []
    for label, pattern in FAMILIES:
        members = [m for m in ranked.index if re.search(pattern, m)]
        if members:
            rows.append((label, members[0], len(members)))
    rows.append(("pretrained arm (curve)", "pretrained", 1))
    rows.append(("no pretraining (curve)", "no_pretraining", 1))
    rows.append(("TF-IDF + LR (curve)", "tfidf_lr", 1))
    head = " | ".join(f"{s} {n}" for s, n in cells)
    print("Margin over the better of tfidf_lr and no_pretraining, points (mean over 3 development splits x 10 draws)\n")
    print(f"| family (members) | best member | {head} | mean | worst | within -0.5 |")
    print("|---|---|" + "---:|" * (len(cells) + 3))
    for label, m, count in rows:
        r = ranked.loc[m] if m in ranked.index else None
        vals = " | ".join("–" if np.isnan(margin.loc[m, c]) else f"{100 * margin.loc[m, c]:+.1f}" for c in cells)
        tail = "– | – | –"
        if r is not None:
            tail = f"{100 * r['mean']:+.2f} | {100 * r['worst']:+.1f} | {int(r['within'])}/{len(cells)}"
        print(f"| {label} ({count}) | `{m}` | {vals} | {tail} |")
    hybrids = ranked[[any(re.search(p, m) for _, p in FAMILIES[1:]) for m in ranked.index]]
    print(
        f"\nHybrid candidates (both representations: every family but the lexical models alone) by the rule "
        f"(most cells within -0.5 point, then mean margin), top {args.top} of {len(hybrids)}:\n"
    )
    print("| rank | method | within -0.5 | mean margin | worst cell |")
    print("|---:|---|---:|---:|---:|")
    for i, (m, r) in enumerate(hybrids.head(args.top).iterrows(), 1):
        print(f"| {i} | `{m}` | {int(r['within'])}/{len(cells)} | {100 * r['mean']:+.2f} | {100 * r['worst']:+.1f} |")
    show = list(dict.fromkeys([hybrids.index[0], "joint_cv", "joint", "pretrained", "no_pretraining", "tfidf_lr"]))
    print("\nAccuracy (mean over 3 development splits; in brackets the standard deviation of the split means)\n")
    print("| data set | N | " + " | ".join(f"`{m}`" for m in show) + " |")
    print("|---|---:|" + "---:|" * len(show))
    table = summary(load(args.tag)).set_index(["set", "n", "method"])
    for s, n in cells:
        text = []
        for m in show:
            if (s, n, m) in table.index:
                r = table.loc[(s, n, m)]
                text.append(f"{r['mean']:.3f} ({r['std']:.3f})")
            else:
                text.append("–")
        print(f"| {s} | {n} | " + " | ".join(text) + " |")


NPZ = re.compile(r"^(?P<set>.+)-(?P<tag>[^-]+)-(?P<split>\d+)-(?P<n>\d+)-(?P<draw>\d+)\.npz$")


def rule_vote(fit: dict, lex: str, grid=W_GRID, repeats: int = 1, tie: str = "pre", z: bool = False):
    """A soft-vote rule replayed from a fit's saved out-of-fold probabilities: (dev probabilities, w).

    The weight maximizes the held-out right count summed over ``repeats`` k-fold repeats; ties: ``pre``
    the largest w, ``ll`` the lowest held-out log-loss then the largest w, ``mid`` / ``c75`` / ``c25`` the w
    closest to 0.5 / 0.75 / 0.25, then the largest."""
    codes = np.searchsorted(fit["classes"], fit["y"])
    oofs = [(fit[f"oof{r}_p"], fit[f"oof{r}_{lex}"]) for r in range(repeats)]
    scales = [(float(log_odds(p).std()) + EPS, float(log_odds(q).std()) + EPS) if z else (1, 1) for p, q in oofs]
    score = {}
    for w in grid:
        right, loss = 0, 0.0
        for (p, q), sc in zip(oofs, scales):
            r_, l_ = right_and_loss(combine(p, q, w, z, sc), codes)
            right, loss = right + r_, loss + l_
        score[w] = (right, loss)
    best = max(r for r, _ in score.values())
    tied = [w for w in grid if score[w][0] == best]
    if tie == "ll":
        low = min(score[w][1] for w in tied)
        tied = [w for w in tied if score[w][1] <= low + 1e-9]
    centre = {"mid": 0.5, "c75": 0.75, "c25": 0.25}.get(tie)
    w = max(tied) if centre is None else min(tied, key=lambda v: (abs(v - centre), -v))
    return combine(fit["dev_pretrained"], fit[f"dev_{lex}"], w, z, scales[0]), w


def rule_one_se(fit: dict, lex: str, w0: float, grid=W_GRID, repeats: int = 2, z: bool = True):
    """The soft vote at the default weight ``w0`` unless another weight of ``grid`` gets more held-out labels
    right by more than one standard error of the paired difference (per held-out label, summed over the
    ``repeats`` k-fold repeats): Breiman's one-standard-error rule, towards w0. (dev probabilities, w)."""
    codes = np.searchsorted(fit["classes"], fit["y"])
    oofs = [(fit[f"oof{r}_p"], fit[f"oof{r}_{lex}"]) for r in range(repeats)]
    scales = [(float(log_odds(p).std()) + EPS, float(log_odds(q).std()) + EPS) if z else (1, 1) for p, q in oofs]
    right = {
        w: sum((combine(p, q, w, z, sc).argmax(axis=1) == codes).astype(int) for (p, q), sc in zip(oofs, scales))
        for w in sorted({*grid, w0})
    }
    best = max(right[w].sum() for w in right)
    w_best = min((w for w in right if right[w].sum() == best), key=lambda w: abs(w - w0))
    diff = right[w_best] - right[w0]
    w = w_best if diff.sum() > np.sqrt(len(diff)) * diff.std(ddof=1) else w0
    return combine(fit["dev_pretrained"], fit[f"dev_{lex}"], w, z, scales[0]), w


def rule_stack(fit: dict, lex: str, repeats: int = 1, C: float = 1.0):
    """Logistic regression over the two models' out-of-fold log-odds (all repeats stacked)."""
    meta_x = np.vstack(
        [np.hstack([log_odds(fit[f"oof{r}_p"]), log_odds(fit[f"oof{r}_{lex}"])]) for r in range(repeats)]
    )
    meta = LogisticRegression(C=C, max_iter=2000).fit(meta_x, np.tile(fit["y"], repeats))
    dev = np.hstack([log_odds(fit["dev_pretrained"]), log_odds(fit[f"dev_{lex}"])])
    return meta.predict_proba(dev), None


RULES = {
    **{
        f"R_vote_{lex}_r{r}_{tie}{'_z' if z else ''}": (rule_vote, {"lex": lex, "repeats": r, "tie": tie, "z": z})
        for lex in ("uni", "bi", "nb", "cv")
        for r in (1, 2)
        for tie in ("pre", "ll", "mid", "c75", "c25")
        for z in (False, True)
    },
    **{
        f"R_vote3_{lex}_r{r}_{tie}{'_z' if z else ''}": (
            rule_vote,
            {"lex": lex, "repeats": r, "tie": tie, "z": z, "grid": (0.25, 0.5, 0.75)},
        )
        for lex in ("uni", "bi", "nb", "cv")
        for r in (1, 2)
        for tie in ("pre", "mid", "c75", "c25")
        for z in (False, True)
    },
    **{
        f"R_fixed_{lex}_{w}{'_z' if z else ''}": (rule_vote, {"lex": lex, "z": z, "grid": (w,)})
        for lex in ("uni", "bi", "nb", "cv")
        for w in (0.25, 0.5, 0.6, 0.75)
        for z in (False, True)
    },
    **{
        f"R_se_{lex}_{w0}_r{r}{'_z' if z else ''}": (rule_one_se, {"lex": lex, "w0": w0, "repeats": r, "z": z})
        for lex in ("uni", "bi", "nb", "cv")
        for w0 in (0.25, 0.5)
        for r in (1, 2)
        for z in (False, True)
    },
    **{
        f"R_stack_{lex}_r{r}": (rule_stack, {"lex": lex, "repeats": r})
        for lex in ("uni", "bi", "nb", "cv")
        for r in (1, 2)
    },
}
"""Per-fit rules replayed offline from the saved probabilities (each chooses from training labels only)."""


def rules(args) -> None:
    """Replay :data:`RULES` on every saved fit; writes ``<set>-<tag>-rules.jsonl`` (accuracy and chosen w)."""
    by_file: dict[str, list] = {}
    for path in sorted(OUT.glob("*.npz")):
        m = NPZ.match(path.name)
        if not m or (args.tag and m["tag"] != args.tag):
            continue
        with np.load(path) as data:
            fit_ = {k: data[k] for k in data.files}
        dev_codes = np.searchsorted(fit_["classes"], fit_["dev"])
        acc, chosen = {}, {}
        for name, (rule, kwargs) in RULES.items():
            if any(f"oof{r}_{kwargs['lex']}" not in fit_ for r in range(kwargs.get("repeats", 1))):
                continue
            proba, w = rule(fit_, **kwargs)
            acc[name] = float(np.mean(proba.argmax(axis=1) == dev_codes))
            chosen[name] = w
        rec = {"set": m["set"], "tag": m["tag"], "split": int(m["split"]), "n": int(m["n"]), "draw": int(m["draw"])}
        by_file.setdefault(f"{m['set']}-{m['tag']}", []).append(rec | {"accuracy": acc, "w": chosen})
    for stem, recs in by_file.items():
        (OUT / f"{stem}.rules").write_text("".join(json.dumps(r) + "\n" for r in recs))
        print(f"{stem}: {len(recs)} fits replayed")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="score the candidates on the draws of one curve run's development splits")
    r.add_argument("--name", required=True, help="data set name (nl-bol, fr-amazon, uncertainty, mr)")
    r.add_argument("--curve", required=True, help="stdout of the fewlabel curve --json run that built the artifacts")
    r.add_argument("--tag", default="default", help="label of this configuration (e.g. ensemble3)")
    r.add_argument("--draws", type=int, default=10)
    r.add_argument("--folds", type=int, default=5, help="k of the per-fit cross-validation (capped by class counts)")
    r.add_argument("--splits", type=int, nargs="*", help="only these splits (data.seed)")
    r.add_argument("--n", type=int, nargs="*", help="only these labels-per-class points")
    r.add_argument("--lean", action="store_true", help="skip joint_cv's grid (its 9 x k fits per fit)")
    r.add_argument("--selftrain", action="store_true", help="also the self-training probe (self_train)")
    r.add_argument("--minimal", action="store_true", help="also skip NB-LR and lex_cv (its C grid): for the ensemble")
    r.add_argument(
        "--arms",
        nargs="+",
        choices=ARMS,
        help="score only these arms (no curve arms, no other candidate), into <name>-<tag>-arms.jsonl with the same "
        "tag: report merges them with the full run's cells; an arm the full run already scored for a fit is checked "
        "equal and not written again",
    )
    p = sub.add_parser("report", help="markdown tables from data/experiments/hybrid/*.jsonl")
    p.add_argument("--tag")
    p.add_argument("--methods", nargs="*")
    f = sub.add_parser("families", help="readable tables: each candidate family's best member, the plain arms")
    f.add_argument("--tag", default="default")
    f.add_argument("--top", type=int, default=10)
    q = sub.add_parser("rules", help="replay the per-fit rules of RULES from the saved probabilities")
    q.add_argument("--tag")
    args = parser.parse_args(argv)
    {"run": run, "report": report, "rules": rules, "families": families}[args.command](args)


if __name__ == "__main__":
    main(sys.argv[1:])
