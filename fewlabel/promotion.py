"""The promotion gate: does a newly trained model replace the production one?

The candidate and the production model are compared on the same evaluation sentences: the test
split each run's evaluate stage predicted (``predictions.parquet``: origin, row, label and one column
per method; the served model is the ``pretrained`` one), which must be the same sentences (the same
``test.parquet`` hash, the same rows and labels: a fixed ``data.test_path`` keeps it so while the
labeled set grows). The paired test is the one the evaluate stage reports: the accuracy difference
with a paired-bootstrap interval and McNemar's exact p-value (:func:`fewlabel.metrics.compare`).

The candidate is promoted unless it is worse by more than ``promotion.margin`` or significantly worse
(lower accuracy with McNemar p < ``promotion.alpha``). The first model is promoted. A candidate whose
model production already serves is ``unchanged``: nothing moves. A gate that cannot
compare (different classes, different evaluation sentences, production's predictions gone) refuses
and says why; production stays.
"""

from __future__ import annotations

import numpy as np

from fewlabel import catalog, registry, runs, store
from fewlabel.config import Config, EvaluateConfig, PromotionConfig
from fewlabel.errors import UserError

PROMOTED, KEPT, REFUSED, UNCHANGED = "promoted", "kept", "refused", "unchanged"
"""The gate's decisions; ``unchanged``: production already is the candidate's model (the same model
hash, :func:`fewlabel.registry.model_of`: a cached re-run, a retried night), so nothing is compared or
moved: a model is promoted once."""
SERVED = "pretrained"
"""The method whose model ``predict`` serves."""


def judge(
    labels: np.ndarray,
    candidate: np.ndarray,
    production: np.ndarray,
    promotion: PromotionConfig,
    evaluate: EvaluateConfig,
) -> dict:
    """The paired comparison of two models' predictions of the same ``labels``, and the verdict:
    ``{"promote", "why", "candidate_accuracy", "production_accuracy", "accuracy_gain", "ci", "mcnemar_p", "n"}``."""
    from fewlabel import metrics  # scikit-learn and scipy load where a comparison is made

    labels, candidate, production = (np.asarray(a, dtype=object) for a in (labels, candidate, production))
    paired = metrics.compare(labels, candidate, production, evaluate)
    gain, p = paired["accuracy_gain"], paired["mcnemar_p"]
    if gain < -promotion.margin:
        promote, why = False, f"worse by more than the margin of {promotion.margin:.1%}"
    elif gain < 0 and p < promotion.alpha:
        promote, why = False, f"significantly worse (p < alpha = {promotion.alpha:g})"
    else:
        promote, why = True, "not worse" if gain >= 0 else f"within the margin of {promotion.margin:.1%}"
    return {
        "promote": promote,
        "why": why,
        "candidate_accuracy": float(np.mean(candidate == labels)) if len(labels) else float("nan"),
        "production_accuracy": float(np.mean(production == labels)) if len(labels) else float("nan"),
        "accuracy_gain": gain,
        "ci": paired["ci"],
        "mcnemar_p": p,
        "n": int(len(labels)),
    }


def _test_hash(record: dict) -> str | None:
    return (record["refs"].get("ingest") or {}).get("files", {}).get(catalog.TEST)


def _classes(record: dict) -> list[str] | None:
    return (record.get("metrics_detail") or {}).get("classes")


def _predictions(record: dict, who: str):
    try:
        return store.read_table(record["refs"]["evaluate"], catalog.PREDICTIONS, ["origin", "row", "label", SERVED])
    except (UserError, KeyError) as exc:
        raise UserError(f"the {who}'s evaluation predictions cannot be read ({exc})") from None


def compare_runs(candidate: dict, production: dict, promotion: PromotionConfig, evaluate: EvaluateConfig) -> dict:
    """``judge`` on the evaluation sentences of two run records; UserError naming why they cannot
    be compared."""
    if _classes(candidate) != _classes(production):
        raise UserError(f"the classes differ (candidate {_classes(candidate)}, production {_classes(production)})")
    if _test_hash(candidate) is None or _test_hash(candidate) != _test_hash(production):
        raise UserError(
            "the evaluation set differs (another test split or test file); fix it with data.test_path "
            "to compare nightly models"
        )
    cand, prod = _predictions(candidate, "candidate"), _predictions(production, "production model")
    if any(cand[c].to_pylist() != prod[c].to_pylist() for c in ("origin", "row", "label")):
        raise UserError("the evaluation sentences differ (rows or labels)")
    return judge(
        np.asarray(cand["label"].to_pylist(), dtype=object),
        np.asarray(cand[SERVED].to_pylist(), dtype=object),
        np.asarray(prod[SERVED].to_pylist(), dtype=object),
        promotion,
        evaluate,
    )


def _pct(x: float) -> str:
    return f"{x:.1%}"


def decide(candidate: dict, production: dict | None) -> dict:
    """The gate's decision for a candidate run record against the production run record (None: no
    production model yet), with the candidate's ``promotion`` and ``evaluate`` config sections."""
    config = Config.model_validate(candidate["config"])
    cid = candidate["flow_run_id"]
    base = {
        "candidate": cid,
        "production": None if production is None else production["flow_run_id"],
        "margin": config.promotion.margin,
        "alpha": config.promotion.alpha,
        "at": registry.now(),
    }
    if production is None:
        accuracy = registry.version(candidate, "")["accuracy"]
        shown = "" if accuracy is None else f" ({_pct(accuracy)} test accuracy)"
        return {**base, "decision": PROMOTED, "message": f"promoted {registry.short(cid)}: the first model{shown}"}
    pid = production["flow_run_id"]
    model = registry.model_of(candidate)
    if pid == cid or model == registry.model_of(production):
        same = "" if pid == cid else f" (run {registry.short(pid)} made the same model)"
        return {
            **base,
            "decision": UNCHANGED,
            "model": model,
            "message": f"unchanged: production already serves candidate {registry.short(cid)}'s model "
            f"{model[:8]}{same}; nothing promoted",
        }
    try:
        result = compare_runs(candidate, production, config.promotion, config.evaluate)
    except UserError as exc:
        return {
            **base,
            "decision": REFUSED,
            "message": f"kept {registry.short(pid)}: cannot compare candidate {registry.short(cid)} with it: {exc}",
        }
    figures = (
        f"{_pct(result['candidate_accuracy'])} vs {_pct(result['production_accuracy'])}, gain "
        f"{result['accuracy_gain']:+.1%} (CI {_pct(result['ci'][0])} to {_pct(result['ci'][1])}), "
        f"p = {result['mcnemar_p']:.2f}, n = {result['n']}"
    )
    promote = result.pop("promote")
    if promote:
        message = (
            f"promoted {registry.short(cid)} over {registry.short(pid)}: {_pct(result['candidate_accuracy'])} vs "
            f"{_pct(result['production_accuracy'])}, p = {result['mcnemar_p']:.2f} ({result['why']})"
        )
    else:
        message = (
            f"kept {registry.short(pid)}: {_pct(result['production_accuracy'])} vs candidate {registry.short(cid)} "
            f"{_pct(result['candidate_accuracy'])}, p = {result['mcnemar_p']:.2f} ({result['why']})"
        )
    return {**base, **result, "decision": PROMOTED if promote else KEPT, "message": message, "figures": figures}


def gate(candidate_run: str, by: str) -> dict:
    """Decide for the training run ``candidate_run`` and, if promoted, point ``production`` at it, all
    under the alias's lock (two gates never both compare with the same old production model). The
    decision is added to the candidate's run record (``promotion``). An alias that does not verify is
    not replaced: the gate refuses."""
    candidate = registry.training_record(candidate_run)
    try:
        with registry.transaction() as tx:
            production = None if tx.run_id is None else runs.read_run(tx.run_id)
            decision = decide(candidate, production)
            if decision["decision"] == PROMOTED and tx.run_id != candidate["flow_run_id"]:
                tx.point(candidate, "gate", decision["message"], by)
    except registry.AliasRefused as exc:
        decision = {
            "candidate": candidate["flow_run_id"],
            "production": None,
            "at": registry.now(),
            "decision": REFUSED,
            "message": f"not promoted {registry.short(candidate['flow_run_id'])}: {exc}",
        }
    decision["record"] = str(runs.update_run(candidate["flow_run_id"], promotion=decision))
    return decision


def markdown(decision: dict) -> str:
    """The decision as the gate's markdown artifact."""
    lines = [f"# Promotion: {decision['decision']}", "", decision["message"], ""]
    if "figures" in decision:
        lines += [
            "| | candidate | production |",
            "|---|---|---|",
            f"| run | {decision['candidate']} | {decision['production']} |",
            f"| accuracy | {_pct(decision['candidate_accuracy'])} | {_pct(decision['production_accuracy'])} |",
            "",
            f"Paired on the same {decision['n']} evaluation sentences: accuracy gain "
            f"{decision['accuracy_gain']:+.1%} (paired bootstrap interval {_pct(decision['ci'][0])} to "
            f"{_pct(decision['ci'][1])}), McNemar exact p = {decision['mcnemar_p']:.3f}. Rule: promoted unless "
            f"worse by more than {_pct(decision['margin'])} or worse with p < {decision['alpha']:g}.",
        ]
    return "\n".join(lines) + "\n"
