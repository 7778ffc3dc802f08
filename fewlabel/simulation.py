"""Simulated labeling: how much each selection strategy saves over random draws.

The training split is the pool: its labels are hidden and revealed only for the sentences a strategy
picks, as a person would label them. Each seed starts from ``start`` labels per class drawn at random
(the same start for every strategy of a seed: the comparison is paired), then rounds pick
``step`` x classes sentences with the strategy, using the pipeline's own model fitted on the labels so
far (:func:`fewlabel.model.fit_pretrained`: the MLP with document pseudo-labels), until ``stop`` x
classes labels are used. After every round the same model is scored on the fixed test split, which
never takes part in selection (nor in pretraining: the leak filter keeps test text out of it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import accuracy_score, f1_score

from fewlabel import stats
from fewlabel.fitting import on_one_blas_thread
from fewlabel.model import fit_pretrained, seeded
from fewlabel.selection import STRATEGIES, select
from fewlabel.specs import SimulationRun

ROWS = pa.schema(
    [
        ("strategy", pa.string()),
        ("seed", pa.int64()),
        ("round", pa.int64()),
        ("labels", pa.int64()),
        ("labels_per_class", pa.float64()),
        ("accuracy", pa.float64()),
        ("macro_f1", pa.float64()),
    ]
)
"""One row per (strategy, seed, round): the tidy table of a simulation."""


def budgets(classes: int, start: int, step: int, stop: int) -> list[int]:
    """Total labels after each round: start x classes, + step x classes per round, capped at stop x classes."""
    sizes, n = [], start
    while n < stop:
        sizes.append(n * classes)
        n += step
    return sizes + [stop * classes]


def initial_draw(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    classes = np.unique(labels)
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in classes])


@on_one_blas_thread
def run_strategy(
    run: SimulationRun,
    *,
    pool: np.ndarray,
    pool_labels: np.ndarray,
    test: np.ndarray,
    test_labels: np.ndarray,
    unlabeled: np.ndarray,
    documents: np.ndarray,
) -> list[dict]:
    """One seed of one strategy (:class:`fewlabel.specs.SimulationRun`): the test accuracy after each
    round (rows of :data:`ROWS`). ``pool`` and ``test`` are the training and test split's vectors, with
    their labels; ``unlabeled`` and ``documents`` the unlabeled lines' vectors and documents, for the
    document pseudo-labels.

    BLAS runs on one thread (:func:`fewlabel.fitting.one_blas_thread`): the MLP's products are small (a
    few hundred rows x 300), and on a shared 2-core machine OpenBLAS's threads mostly wait for each other
    (one MR seed of random, labels-only: 3.5 s on one thread, 20.8 s with the default threads, the same
    accuracies to the last digit).
    """
    classes = np.unique(pool_labels)
    smallest = int(pd.Series(pool_labels).value_counts().min())
    stop = min(run.stop, smallest)
    labeled = initial_draw(pool_labels, run.start, np.random.default_rng([run.seed, 0]))
    rng = np.random.default_rng([run.seed, 1])  # the strategy's own randomness
    config = seeded(run.classifier, run.seed)
    rows = []
    sizes = budgets(len(classes), run.start, run.step, stop)
    for r in range(len(sizes)):
        model, _, _, _ = fit_pretrained(pool[labeled], pool_labels[labeled], config, unlabeled, documents)
        predicted = model.predict(test)
        rows.append(
            {
                "strategy": run.strategy,
                "seed": run.seed,
                "round": r,
                "labels": len(labeled),
                "labels_per_class": len(labeled) / len(classes),
                "accuracy": float(accuracy_score(test_labels, predicted)),
                "macro_f1": float(f1_score(test_labels, predicted, average="macro", zero_division=0)),
            }
        )
        if r + 1 == len(sizes):
            break
        rest = np.setdiff1d(np.arange(len(pool)), labeled)
        proba = None if not STRATEGIES[run.strategy].needs_model else model.predict_proba(pool[rest])
        picks = select(run.strategy, pool[rest], proba, sizes[r + 1] - len(labeled), rng)
        labeled = np.concatenate([labeled, rest[picks]])
    return rows


def summarize(rows: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean, std and t-interval of accuracy per (strategy, labels per class), over seeds; and the gain
    over random on the same seeds (paired mean difference)."""
    out = []
    random = rows[rows["strategy"] == "random"].set_index(["seed", "labels"])["accuracy"]
    for (strategy, labels), group in rows.groupby(["strategy", "labels"], sort=True):
        mean, std, low, high = stats.mean_interval(group["accuracy"].to_numpy(), confidence)
        mine = group.set_index(["seed", "labels"])["accuracy"]
        paired = mine - random.reindex(mine.index)
        out.append(
            {
                "strategy": strategy,
                "labels": int(labels),
                "labels_per_class": float(group["labels_per_class"].iloc[0]),
                "mean": mean,
                "std": std,
                "ci_low": low,
                "ci_high": high,
                "seeds": len(group),
                "gain_over_random": float(paired.mean()) if paired.notna().all() else float("nan"),
            }
        )
    return pd.DataFrame(out)


def labels_to_match(summary: pd.DataFrame, strategy: str, target_per_class: float) -> float | None:
    """The fewest labels per class at which ``strategy``'s mean accuracy reaches random's at
    ``target_per_class`` (None if it never does)."""
    random = summary[(summary["strategy"] == "random") & (summary["labels_per_class"] == target_per_class)]
    if random.empty:
        return None
    goal = float(random["mean"].iloc[0])
    mine = summary[summary["strategy"] == strategy].sort_values("labels_per_class")
    hit = mine[mine["mean"] >= goal]
    return float(hit["labels_per_class"].iloc[0]) if len(hit) else None


def plot(summary: pd.DataFrame, path, title: str) -> None:
    """Accuracy against labels per class, one line and interval band per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5.2), dpi=120, layout="constrained")
    for strategy, part in summary.groupby("strategy", sort=False):
        part = part.sort_values("labels_per_class")
        style = {"color": "black", "linestyle": "--"} if strategy == "random" else {}
        ax.plot(part["labels_per_class"], part["mean"], marker=".", label=strategy, **style)
        ax.fill_between(part["labels_per_class"], part["ci_low"], part["ci_high"], alpha=0.15, **style)
    ax.set_xlabel("labels per class")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def markdown(summary: pd.DataFrame, seeds: int, columns: tuple[float, ...] = (2, 6, 10, 18, 34, 50, 64)) -> str:
    """Mean test accuracy ± std over seeds per strategy at some labels-per-class budgets, the paired gain
    over random, and the labels per class each strategy needs to reach random's accuracy at the last budget."""
    have = sorted(set(summary["labels_per_class"]))
    shown = [c for c in columns if c in have] or have
    last = have[-1]
    head = "| strategy | " + " | ".join(f"{c:g}" for c in shown) + f" | labels/class to match random at {last:g} |"
    lines = [head, "|---" * (len(shown) + 2) + "|"]
    for strategy, part in summary.groupby("strategy", sort=False):
        part = part.set_index("labels_per_class")
        cells = []
        for c in shown:
            r = part.loc[c]
            gain = "" if strategy == "random" else f" ({r['gain_over_random'] * 100:+.1f})"
            cells.append(f"{r['mean']:.3f} ± {r['std']:.3f}{gain}")
        match = labels_to_match(summary, strategy, last)
        lines.append(f"| {strategy} | " + " | ".join(cells) + f" | {'never' if match is None else f'{match:g}'} |")
    return (
        f"Test accuracy, mean ± std over {seeds} seeds (in brackets: points over random on the same seeds), "
        "by labels per class used.\n\n" + "\n".join(lines) + "\n"
    )
