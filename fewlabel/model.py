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

import warnings

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

from fewlabel import classifiers, interrupts, pseudo
from fewlabel.config import ClassifierConfig
from fewlabel.fitting import NO_PROGRESS, Progress, on_one_blas_thread


def make_classifier(config: ClassifierConfig) -> Pipeline:
    """Optional L2 normalization of each row, optional standardization, then the estimator of
    ``config.estimator``'s kind with its own parameters (its penalty as is: no selection here). The
    normalizer is stateless (row by row), so it reads nothing of the training set either."""
    steps = [("normalize", Normalizer())] if config.l2_normalize else []
    steps += [("scale", StandardScaler())] if config.standardize else []
    return Pipeline([*steps, (config.estimator.kind, classifiers.build(config.estimator))])


def penalty_of(config: ClassifierConfig) -> str | None:
    """The name of the estimator's L2 penalty that the alpha rule sets (None: its kind has no rule)."""
    return classifiers.KINDS[config.estimator.kind].penalty


def title_of(config: ClassifierConfig) -> str:
    """How logs and reports name the configured classifier ("MLP")."""
    return classifiers.title(config.estimator.kind)


def with_estimator(config: ClassifierConfig, **params) -> ClassifierConfig:
    """``config`` with some of the estimator's own parameters replaced."""
    return config.model_copy(update={"estimator": config.estimator.model_copy(update=params)})


def seeded(config: ClassifierConfig, seed: int) -> ClassifierConfig:
    """``config`` with the estimator's ``random_state`` (and so the folds of every per-fit rule) set to ``seed``."""
    return with_estimator(config, random_state=seed)


def fit_estimator(estimator, X: np.ndarray, y: np.ndarray):
    """``estimator.fit(X, y)``; if Ctrl-C or SIGTERM arrived before or meanwhile, raise it. (scikit-learn's
    MLP catches KeyboardInterrupt in its epoch loop, warns and returns half-fitted: such a model must
    never be used, and the fits after it must not run, in this thread or another.)"""
    interrupts.check()
    estimator.fit(X, y)
    interrupts.check()
    return estimator


@on_one_blas_thread
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
    penalty = penalty_of(config)
    _, counts = np.unique(y, return_counts=True)
    folds = min(config.cv_folds, int(counts.min()))
    if len(grid) == 1:
        return {"alpha": grid[0], "folds": 0, "scores": {}}
    if folds < 2:
        return {"alpha": getattr(config.estimator, penalty), "folds": 0, "scores": {}}
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=config.estimator.random_state).split(X, y))
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # inner fits: only the final fit is reported
        for alpha in grid:
            candidate = make_classifier(with_estimator(config, **{penalty: alpha}))
            right = []
            for i, (train, held) in enumerate(splits):
                with progress.fitting(
                    f"alpha {alpha:g}, fold {i + 1}/{folds}: {title_of(config)} on {len(train):,} rows",
                    candidate[-1],
                ):
                    fit_estimator(candidate, X[train], y[train])
                right.append(np.mean(candidate.predict(X[held]) == y[held]))
            scores[alpha] = float(np.mean(right))
    best = max(scores.values())
    return {"alpha": max(a for a in grid if scores[a] >= best - 1e-12), "folds": folds, "scores": scores}


@on_one_blas_thread
def fit_selected(
    X: np.ndarray, y: np.ndarray, config: ClassifierConfig, progress: Progress = NO_PROGRESS, what: str = "MLP"
) -> tuple[Pipeline, bool, dict]:
    """(pipeline fitted on all of (X, y), converged?, how its alpha was chosen).

    The alpha (the estimator's L2 penalty: the MLP's ``alpha``) is the estimator's own, or with
    ``alpha_grid`` set the :func:`cross_validate_alpha` choice; then, with ``alpha_max_per_row`` set, at
    most that many times the number of rows. scikit-learn divides alpha by the number of rows (the
    loss is a mean), so the cap bounds the penalty per row: without it alpha=10 weighs 2.5 per row on
    4 rows (every weight shrinks to zero, one class is predicted) but 0.08 on 128. Only ``X`` and
    ``y`` are read. A kind without such a penalty is fitted as configured (``alpha`` None).

    The record: ``{"alpha", "folds", "scores": {alpha: cross-validated accuracy}}``. With ``progress``
    the fit logs a line named ``what``.
    """
    penalty = penalty_of(config)
    if penalty is None:
        selection = {"alpha": None, "folds": 0, "scores": {}}
    elif config.alpha_grid:
        selection = cross_validate_alpha(X, y, config, progress)
    else:
        selection = {"alpha": getattr(config.estimator, penalty), "folds": 0, "scores": {}}
    if penalty is not None and config.alpha_max_per_row is not None:
        selection["alpha"] = min(selection["alpha"], config.alpha_max_per_row * len(y))
    chosen = config if penalty is None else with_estimator(config, **{penalty: selection["alpha"]})
    model = make_classifier(chosen)
    with progress.fitting(f"{what} on {len(y):,} rows", model[-1]):
        fit_estimator(model, X, y)
    return model, converged(model, config), selection


def iterations(model) -> int:
    """The iterations the fitted estimator of a pipeline ran (its ``n_iter_``; the largest, per class)."""
    return int(np.max(getattr(model[-1], "n_iter_", 0)))


def converged(model, config: ClassifierConfig) -> bool:
    """Whether the estimator stopped before its iteration limit."""
    return iterations(model) < getattr(config.estimator, "max_iter", np.inf)


def fit(X: np.ndarray, y: np.ndarray, config: ClassifierConfig) -> tuple[Pipeline, bool]:
    """(fitted pipeline, converged?): convergence is reported in the stage stats, not as a warning.

    The alpha actually used is the fitted estimator's own (``model[-1].alpha`` for the MLP).
    """
    model, converged, _ = fit_selected(X, y, config)
    return model, converged


def _held_out(model, X: np.ndarray, y: np.ndarray) -> tuple[int, float]:
    """(right predictions, summed log-loss) of ``model`` on (X, y)."""
    proba = model.predict_proba(X)
    truth = np.searchsorted(model.classes_, y)
    right = int(np.sum(model.classes_[proba.argmax(axis=1)] == y))
    return right, float(-np.log(np.clip(proba[np.arange(len(y)), truth], 1e-12, None)).sum())


@on_one_blas_thread
def fit_with_pseudo(
    X: np.ndarray,
    y: np.ndarray,
    config: ClassifierConfig,
    pool: np.ndarray,
    documents: np.ndarray,
    progress: Progress = NO_PROGRESS,
):
    """(labels-only pipeline, converged?, selection, final model, pseudo record, refits converged?)."""
    base, converged, selection = fit_selected(X, y, config, progress, f"labels-only {title_of(config)}")
    refit_config = config.model_copy(update={"alpha_grid": ()})
    flags: list[bool] = []

    def refit(X2, y2):
        lines = len(y2) - len(y)
        round_ = f"pseudo-label round {len(flags) + 1}/{config.pseudo_rounds}"
        what = f"{round_}: {lines:,} lines pseudo-labeled: {title_of(config)}"
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


@on_one_blas_thread
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
    splits = StratifiedKFold(folds, shuffle=True, random_state=config.estimator.random_state).split(X, y)
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


@on_one_blas_thread
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
