"""Tables and plots of labeling simulations (``fewlabel simulate``) over several data sets: what
experiments/selection.md and docs/measurements/selection.md show.

Usage (from the repository root), one NAME=PATH per data set, PATH a simulate-report artifact's
``simulation.parquet`` (``fewlabel simulate --json`` prints it as ``table``):

    .venv/bin/python experiments/selection_report.py mr=data/reports/simulate-report-.../simulation.parquet \
        nl-bol=... --plot experiments/selection_test.png --title "test splits" > tables.md

Per data set: the summary table (:func:`fewlabel.simulation.markdown`) and the mean accuracy at every
round; then the plot (one panel per data set) and the cross-data-set table: each strategy's mean
paired gain over random across the rounds after the start (per seed: the mean over rounds of strategy
minus random on the same seed and round; mean and 95% t-interval over seeds), the labels per class it
needs to reach random's accuracy at the last budget, and the verdict of the default rule: a strategy
beats random when its mean gain is positive on every data set and the 95% t-interval of its gains
over all (data set, seed) pairs lies above zero; the default is the best such strategy, else random.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from fewlabel import stats
from fewlabel.simulation import labels_to_match, markdown, summarize


def every_round(summary: pd.DataFrame) -> str:
    wide = summary.pivot(index="labels_per_class", columns="strategy", values="mean")
    lines = ["| labels/class | " + " | ".join(wide.columns) + " |", "|---" * (len(wide.columns) + 1) + "|"]
    for n, row in wide.iterrows():
        lines.append(f"| {n:g} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines)


def gains(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: per-seed mean over rounds (after round 0) of accuracy minus random's, then the mean
    and t-interval over seeds."""
    later = tidy[tidy["round"] > 0]
    random = later[later["strategy"] == "random"].set_index(["seed", "round"])["accuracy"]
    out = []
    for strategy, part in later.groupby("strategy"):
        if strategy == "random":
            continue
        diff = part.set_index(["seed", "round"])["accuracy"] - random
        per_seed = diff.groupby(level="seed").mean().to_numpy()
        mean, std, low, high = stats.mean_interval(per_seed)
        out.append(
            {"strategy": strategy, "gain": mean, "low": low, "high": high, "seeds": len(per_seed), "per_seed": per_seed}
        )
    return pd.DataFrame(out)


def compact(summaries: dict[str, pd.DataFrame], columns=(6, 10, 18, 34, 64)) -> str:
    """One table for all data sets: mean ± std (paired gain over random) at a few budgets, and the labels
    per class needed to reach random's accuracy at the last budget."""
    head = "| data set | strategy | " + " | ".join(f"{c:g}" for c in columns) + " | to match random at 64 |"
    lines = [head, "|---" * (len(columns) + 3) + "|"]
    for name, summary in summaries.items():
        last = summary["labels_per_class"].max()
        for strategy, part in summary.groupby("strategy", sort=False):
            part = part.set_index("labels_per_class")
            cells = []
            for c in columns:
                if c not in part.index:
                    cells.append("–")
                    continue
                r = part.loc[c]
                gain = "" if strategy == "random" else f" ({r['gain_over_random'] * 100:+.1f})"
                cells.append(f"{r['mean']:.3f} ± {r['std']:.3f}{gain}")
            match = labels_to_match(summary, strategy, last)
            lines.append(
                f"| {name} | {strategy} | " + " | ".join(cells) + f" | {'never' if match is None else f'{match:g}'} |"
            )
    return "\n".join(lines)


def panels(summaries: dict[str, pd.DataFrame], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(summaries)
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.6 * rows), dpi=110, layout="constrained", squeeze=False)
    for ax, (name, summary) in zip(axes.flat, summaries.items()):
        for strategy, part in summary.groupby("strategy", sort=False):
            part = part.sort_values("labels_per_class")
            style = {"color": "black", "linestyle": "--"} if strategy == "random" else {}
            ax.plot(part["labels_per_class"], part["mean"], marker=".", label=strategy, **style)
            ax.fill_between(part["labels_per_class"], part["ci_low"], part["ci_high"], alpha=0.12, **style)
        seeds = int(summary["seeds"].max())
        ax.set_title(f"{name} ({seeds} seeds, bands: 95% CI of the mean)")
        ax.set_xlabel("labels per class used")
        ax.set_ylabel("accuracy on the held-out split")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(f"Simulated labeling, {title}: each strategy vs random draws (labels-only MLP)", fontsize="medium")
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", help="NAME=PATH of a simulation.parquet")
    parser.add_argument("--plot", required=True, help="PNG to write")
    parser.add_argument("--title", default="test splits", help="which splits were scored, for the plot's title")
    args = parser.parse_args()
    summaries, rows = {}, []
    for item in args.sets:
        name, path = item.split("=", 1)
        tidy = pd.read_parquet(path)
        summary = summarize(tidy)
        summaries[name] = summary
        seeds = tidy["seed"].nunique()
        last = summary["labels_per_class"].max()
        print(f"## {name}\n\n{markdown(summary, seeds)}")
        print(f"Mean test accuracy at every round:\n\n{every_round(summary)}\n")
        for g in gains(tidy).itertuples():
            match = labels_to_match(summary, g.strategy, last)
            rows.append((g.strategy, name, g.gain, g.low, g.high, match, last, g.per_seed))
    panels(summaries, Path(args.plot), args.title)
    names = list(summaries)
    print("## Over the data sets\n")
    print(
        "Mean paired gain over random across the rounds after the start, in points (95% interval over seeds); "
        "in brackets the labels per class the strategy needs to reach random's accuracy at the last budget.\n"
    )
    print("| strategy | " + " | ".join(names) + " | pooled over data sets and seeds | beats random |")
    print("|---" * (len(names) + 3) + "|")
    table = pd.DataFrame(rows, columns=["strategy", "set", "gain", "low", "high", "match", "last", "per_seed"])
    best = None
    for strategy, part in table.groupby("strategy"):
        part = part.set_index("set")
        cells = []
        for name in names:
            r = part.loc[name]
            match = "never" if r["match"] is None or pd.isna(r["match"]) else f"{r['match']:g}"
            interval = f"{r['low'] * 100:+.1f} to {r['high'] * 100:+.1f}"
            cells.append(f"{r['gain'] * 100:+.1f} ({interval}) [{match} of {r['last']:g}]")
        mean, _, low, high = stats.mean_interval(np.concatenate(list(part["per_seed"])))
        beats = bool((part["gain"] > 0).all() and low > 0)
        if beats and (best is None or mean > best[1]):
            best = (strategy, mean)
        pooled = f"{mean * 100:+.2f} ({low * 100:+.1f} to {high * 100:+.1f})"
        print(f"| {strategy} | " + " | ".join(cells) + f" | {pooled} | {'yes' if beats else 'no'} |")
    print("\n## All data sets, a few budgets\n")
    print(compact(summaries))
    print(f"\nDefault by the rule: {best[0] if best else 'random (no strategy beats it)'}")


if __name__ == "__main__":
    main()
