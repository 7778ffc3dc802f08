"""The classifier: a small scikit-learn MLP pipeline, its L2 penalty chosen per fit, document pseudo-labels.

Every fit sets the MLP's L2 penalty from its own training rows only (:func:`fit_selected`: capped
per row with ``classifier.alpha_max_per_row``, or chosen among ``classifier.alpha_grid`` by stratified
k-fold cross-validation): the curve's MLP arms go through the same :func:`fit`, so both arms get the
same rule and nothing of the test split ever reaches it.

The pretrained arm adds document pseudo-labels from the unlabeled text (:func:`fit_pretrained`,
:mod:`fewlabel.pseudo`): its model is then a soft-voting average of the labels-only MLP and the
pseudo-labeled one.

Every fit and prediction here runs with BLAS on one thread (:func:`one_blas_thread`), and with a
:class:`Progress` the fits log what they do (:func:`fit_pretrained`, the train stage).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from threadpoolctl import threadpool_limits

from fewlabel import pseudo
from fewlabel.config import ClassifierConfig

log = logging.getLogger(__name__)

SELECTION_KEYS = {
    "alpha_grid",
    "cv_folds",
    "alpha_max_per_row",
    "pseudo_documents",
    "pseudo_rounds",
    "pseudo_weight",
    "pseudo_min_lines",
    "pseudo_check_folds",
    "pseudo_min_share",
}
"""ClassifierConfig fields that steer :func:`fit` and :func:`fit_pretrained`, not MLPClassifier parameters."""

_blas = {"lock": threading.Lock(), "depth": 0, "limiter": None}


@contextmanager
def one_blas_thread():
    """BLAS (OpenBLAS, MKL) on one thread inside: the MLP's products are small (a mini-batch of 200 rows x
    300 x 32), and OpenBLAS's threads spend more CPU waiting for each other than computing them. On MR's
    train stage (2 cores, loaded) an epoch over 10,000 rows took 0.027 CPU s on one thread and 0.36 to
    0.47 CPU s on two, with bitwise the same weights and probabilities. The limit is process-wide, so
    it is counted: with several threads inside (the curve's points run in a thread pool), the first
    one in sets it and the last one out restores it, so no thread's fit is put back on two threads
    while another still runs. (OpenBLAS 0.3.31 ignores a thread raising the count another thread
    lowered: when the last one out is not the first one in, one thread stays.)"""
    with _blas["lock"]:
        if _blas["depth"] == 0:
            _blas["limiter"] = threadpool_limits(1, user_api="blas")
        _blas["depth"] += 1
    try:
        yield
    finally:
        with _blas["lock"]:
            _blas["depth"] -= 1
            if _blas["depth"] == 0:
                _blas["limiter"].restore_original_limits()
                _blas["limiter"] = None


def _one_thread(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return fn(*args, **kwargs)

    return wrapper


class Progress:
    """Log lines of a long fit (the ``fewlabel.model`` logger: the terminal and, in a run, its logs).

    :meth:`within` names the part being fitted (``pretrained arm``, ``safeguard fold 2/3``,
    ``pseudo-label round 1/2``); each finished MLP fit logs one line with that path, its rows, epochs
    and seconds; and while one fit runs, a line every ``every`` seconds without any other says which one
    and at which epoch. ``Progress(None)`` logs nothing. Use it as a context manager (it starts and
    stops the thread that writes those lines)."""

    def __init__(self, prefix: str | None, every: float = 10.0, logger: logging.Logger = log):
        self.prefix, self.every, self.logger = prefix, every, logger
        self.path: list[str] = []
        self.current: tuple[str, float, object] | None = None  # (what, start, estimator) of the running fit
        self.last = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.prefix is not None:
            self.last = time.monotonic()
            # the caller's context goes along: inside a Prefect run, the run's log handler finds the run in it
            context = contextvars.copy_context()
            self._thread = threading.Thread(
                target=context.run, args=(self._beat,), name="fewlabel-fit-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def say(self, message: str, *args) -> None:
        if self.prefix is not None:
            self.last = time.monotonic()
            where = ": ".join([self.prefix, *self.path])
            self.logger.info("%s: " + message, where, *args)

    @contextmanager
    def within(self, part: str):
        self.path.append(part)
        try:
            yield
        finally:
            self.path.pop()

    @contextmanager
    def fitting(self, what: str, estimator=None):
        """One fit: ``estimator`` (an MLP), if given, tells the waiting lines its epoch."""
        start = time.monotonic()
        self.current = (what, start, estimator)
        try:
            yield
        finally:
            self.current = None
        epochs = getattr(estimator, "n_iter_", None)
        self.say("%s: %s%.1f s", what, "" if epochs is None else f"{epochs} epochs, ", time.monotonic() - start)

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.every)):
            current = self.current
            if current is None or time.monotonic() - self.last < self.every:
                continue
            what, start, estimator = current
            epochs = getattr(estimator, "n_iter_", None)
            self.say(
                "%s: running, %s%.0f s", what, "" if epochs is None else f"epoch {epochs}, ", time.monotonic() - start
            )


NO_PROGRESS = Progress(None)
"""Logs nothing: the default of every fit (the curve's draws and the simulation's rounds stay quiet)."""


def make_classifier(config: ClassifierConfig) -> Pipeline:
    """Optional L2 normalization of each row, optional standardization, then the MLP, as configured
    (``alpha`` as is: no selection here). The normalizer is stateless (row by row), so it reads
    nothing of the training set either."""
    params = config.model_dump(exclude={"l2_normalize", "standardize", *SELECTION_KEYS})
    steps = [("normalize", Normalizer())] if config.l2_normalize else []
    steps += [("scale", StandardScaler())] if config.standardize else []
    return Pipeline([*steps, ("mlp", MLPClassifier(**params))])


@_one_thread
def cross_validate_alpha(
    X: np.ndarray, y: np.ndarray, config: ClassifierConfig, progress: Progress = NO_PROGRESS
) -> dict:
    """The L2 penalty among ``config.alpha_grid`` with the best cross-validated accuracy on (X, y).

    Stratified k-fold with k = min(``cv_folds``, smallest class count), shuffled with the
    classifier's ``random_state``; every candidate is scored on the same folds (mean fold accuracy)
    and ties go to the largest alpha (the most regularized of the best). Only ``X`` and ``y`` are
    read. With a class of a single example (no fold can hold it out) the configured ``alpha`` stands.

    Returns:
        ``{"alpha": chosen, "folds": k, "scores": {alpha: mean accuracy}}`` (folds 0, scores empty
        when nothing was cross-validated).
    """
    grid = sorted(set(config.alpha_grid))
    _, counts = np.unique(y, return_counts=True)
    folds = min(config.cv_folds, int(counts.min()))
    if len(grid) == 1:
        return {"alpha": grid[0], "folds": 0, "scores": {}}
    if folds < 2:
        return {"alpha": config.alpha, "folds": 0, "scores": {}}
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=config.random_state).split(X, y))
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # inner fits: only the final fit is reported
        for alpha in grid:
            candidate = make_classifier(config.model_copy(update={"alpha": alpha}))
            right = []
            for i, (train, held) in enumerate(splits):
                with progress.fitting(
                    f"alpha {alpha:g}, fold {i + 1}/{folds}: MLP on {len(train):,} rows", candidate[-1]
                ):
                    candidate.fit(X[train], y[train])
                right.append(np.mean(candidate.predict(X[held]) == y[held]))
            scores[alpha] = float(np.mean(right))
    best = max(scores.values())
    return {"alpha": max(a for a in grid if scores[a] >= best - 1e-12), "folds": folds, "scores": scores}


@_one_thread
def fit_selected(
    X: np.ndarray, y: np.ndarray, config: ClassifierConfig, progress: Progress = NO_PROGRESS, what: str = "MLP"
) -> tuple[Pipeline, bool, dict]:
    """(pipeline fitted on all of (X, y), converged?, how its alpha was chosen).

    The alpha is ``config.alpha``, or with ``alpha_grid`` set the :func:`cross_validate_alpha` choice;
    then, with ``alpha_max_per_row`` set, at most that many times the number of rows. scikit-learn
    divides alpha by the number of rows (the loss is a mean), so the cap bounds the penalty per row:
    without it alpha=10 weighs 2.5 per row on 4 rows (every weight shrinks to zero, one class is
    predicted) but 0.08 on 128. Only ``X`` and ``y`` are read.

    The record: ``{"alpha", "folds", "scores": {alpha: cross-validated accuracy}}``. With ``progress``
    the fit logs a line named ``what``.
    """
    selection = (
        cross_validate_alpha(X, y, config, progress)
        if config.alpha_grid
        else {"alpha": config.alpha, "folds": 0, "scores": {}}
    )
    if config.alpha_max_per_row is not None:
        selection["alpha"] = min(selection["alpha"], config.alpha_max_per_row * len(y))
    model = make_classifier(config.model_copy(update={"alpha": selection["alpha"]}))
    with progress.fitting(f"{what} on {len(y):,} rows", model[-1]):
        model.fit(X, y)
    return model, model[-1].n_iter_ < config.max_iter, selection


def fit(X: np.ndarray, y: np.ndarray, config: ClassifierConfig) -> tuple[Pipeline, bool]:
    """(fitted pipeline, converged?): convergence is reported in the stage stats, not as a warning.

    The alpha actually used is the fitted MLP's own ``alpha`` (``model[-1].alpha``).
    """
    model, converged, _ = fit_selected(X, y, config)
    return model, converged


def _held_out(model, X: np.ndarray, y: np.ndarray) -> tuple[int, float]:
    """(right predictions, summed log-loss) of ``model`` on (X, y)."""
    proba = model.predict_proba(X)
    truth = np.searchsorted(model.classes_, y)
    right = int(np.sum(model.classes_[proba.argmax(axis=1)] == y))
    return right, float(-np.log(np.clip(proba[np.arange(len(y)), truth], 1e-12, None)).sum())


@_one_thread
def fit_with_pseudo(
    X: np.ndarray,
    y: np.ndarray,
    config: ClassifierConfig,
    pool: np.ndarray,
    documents: np.ndarray,
    progress: Progress = NO_PROGRESS,
):
    """(labels-only pipeline, converged?, selection, final model, pseudo record, refits converged?)."""
    base, converged, selection = fit_selected(X, y, config, progress, "labels-only MLP")
    refit_config = config.model_copy(update={"alpha_grid": ()})
    flags: list[bool] = []

    def refit(X2, y2):
        lines = len(y2) - len(y)
        what = f"pseudo-label round {len(flags) + 1}/{config.pseudo_rounds}: {lines:,} lines pseudo-labeled: MLP"
        model, refit_converged, _ = fit_selected(X2, y2, refit_config, progress, what)
        flags.append(refit_converged)
        return model

    model, record = pseudo.fit_with_documents(
        base,
        X,
        y,
        pool,
        documents,
        refit,
        config.pseudo_documents,
        config.pseudo_rounds,
        config.pseudo_weight,
        config.pseudo_min_lines,
        config.pseudo_min_share,
    )
    return base, converged, selection, model, record, all(flags)


@_one_thread
def check_pseudo(
    X: np.ndarray,
    y: np.ndarray,
    config: ClassifierConfig,
    pool: np.ndarray,
    documents: np.ndarray,
    progress: Progress = NO_PROGRESS,
) -> dict:
    """Do the pseudo-labels help these labels? Decided from the training labels alone.

    Stratified k-fold over (X, y), k = min(``pseudo_check_folds``, smallest class count): for each fold
    the labels-only and the pseudo-labeled model are built from the other folds exactly as the final
    ones are (the pseudo-labels picked by that fold's own labels-only model), and both predict the
    held-out fold. The pseudo-labels are kept only if the pseudo-labeled model is strictly better:
    more held-out labels right, or as many and a lower held-out log-loss. Nothing but (X, y) and the
    unlabeled pool is read.

    Returns ``{"use": bool, "reason", "folds", "held_out", "right": {"labels_only", "pseudo"},
    "log_loss": {...}}``.
    """
    _, counts = np.unique(y, return_counts=True)
    folds = min(config.pseudo_check_folds, int(counts.min()))
    record = {"folds": folds, "held_out": 0, "right": {}, "log_loss": {}}
    if folds < 2:
        return {**record, "use": False, "reason": "too few labels per class to hold any out: labels only"}
    right, loss = np.zeros(2, int), np.zeros(2)
    splits = StratifiedKFold(folds, shuffle=True, random_state=config.random_state).split(X, y)
    fold_config = config.model_copy(update={"alpha_grid": ()})  # the fold's alpha rule only: no nested CV
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, (train, held) in enumerate(splits):
            with progress.within(f"safeguard fold {i + 1}/{folds}"):
                base, _, _, model, _, _ = fit_with_pseudo(X[train], y[train], fold_config, pool, documents, progress)
            for i, candidate in enumerate((base, model)):
                r, ll = _held_out(candidate, X[held], y[held])
                right[i] += r
                loss[i] += ll
            record["held_out"] += len(held)
    use = bool(right[1] > right[0] or (right[1] == right[0] and loss[1] < loss[0]))
    n = record["held_out"]
    reason = (
        f"{folds}-fold check on the training labels: pseudo-labeled {right[1]}/{n} right (log-loss "
        f"{loss[1] / n:.3f}), labels only {right[0]}/{n} ({loss[0] / n:.3f}): "
        + ("pseudo-labels kept" if use else "labels only (the pseudo-labels did not help)")
    )
    return {
        **record,
        "use": use,
        "reason": reason,
        "right": {"labels_only": int(right[0]), "pseudo": int(right[1])},
        "log_loss": {"labels_only": float(loss[0] / n), "pseudo": float(loss[1] / n)},
    }


@_one_thread
def fit_pretrained(
    X: np.ndarray,
    y: np.ndarray,
    config: ClassifierConfig,
    pool: np.ndarray,
    documents: np.ndarray,
    progress: Progress = NO_PROGRESS,
) -> tuple[Pipeline | VotingClassifier, Pipeline, bool, dict]:
    """The pretrained arm: (final model, labels-only pipeline, converged?, record).

    The labels-only pipeline is :func:`fit_selected`'s; with ``config.pseudo_documents`` > 0 and
    unlabeled documents in ``pool``, :func:`fewlabel.pseudo.fit_with_documents` adds document
    pseudo-labels (each refit with the labels' alpha rule, no cross-validation: thousands of rows),
    and with ``pseudo_check_folds`` the safeguard (:func:`check_pseudo`) decides from the training
    labels whether they are kept or the labels-only model is the final one.
    The record: ``{"alpha", "folds", "scores", "pseudo": {..., "safeguard": {"use", "reason", ...}}}``.
    With ``progress``, every fit logs a line (:class:`Progress`).
    """
    base, converged, selection, model, record, refits_converged = fit_with_pseudo(
        X, y, config, pool, documents, progress
    )
    if record.get("skipped"):
        progress.say("document pseudo-labels %s", record["skipped"])
    if model is not base and config.pseudo_check_folds:
        check = check_pseudo(X, y, config, pool, documents, progress)
        progress.say("%s", check["reason"])
        record = {**record, "safeguard": check, "used": check["use"]}
        if not check["use"]:
            model = base
    else:
        record = {**record, "used": model is not base}
    return model, base, converged and refits_converged, {**selection, "pseudo": record}
