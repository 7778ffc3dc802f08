"""Stages simulate and simulate-report: one cached task per (strategy, seed) of the labeling simulation
(:func:`fewlabel.simulation.run_strategy`), then the table, summary, markdown table and plot.

A task receives only what it uses (its strategy, its seed, the round sizes and the classifier), so
adding a seed or a strategy runs only the new tasks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from fewlabel import catalog, store
from fewlabel.config import ClassifierConfig
from fewlabel.orchestration.stage import stage
from fewlabel.vectors import matrix_of


def items(config) -> list[str]:
    """Every (strategy, seed) of the simulation, as ``strategy/seed``; random always included."""
    sel = config.selection
    strategies = list(dict.fromkeys(["random", *sel.strategies]))
    return [f"{s}/{sel.seed + i}" for s in strategies for i in range(sel.seeds)]


def simulate_args(item: str, refs: dict, config) -> list:
    strategy, seed = item.split("/")
    sel = config.selection
    return [refs["vectorize"], strategy, int(seed), sel.start, sel.step, sel.stop, config.classifier]


@stage("simulate", label=lambda params: f"{params['strategy']}/{params['seed']}")
def simulate(
    out: Path,
    features: store.Ref,
    strategy: str,
    seed: int,
    start: int,
    step: int,
    stop: int,
    classifier: ClassifierConfig,
) -> dict:
    """One seed of one strategy, every round; writes ``rounds.parquet``."""
    from fewlabel.simulation import ROWS, run_strategy  # scikit-learn loads when the stage runs

    train = store.read_table(features, catalog.TRAIN, ["label", "pretrained"])
    test = store.read_table(features, catalog.TEST, ["label", "pretrained"])
    pool = store.read_table(features, catalog.UNLABELED)
    rows = run_strategy(
        strategy,
        matrix_of(train, "pretrained"),
        np.asarray(train["label"].to_pylist(), dtype=object),
        matrix_of(test, "pretrained"),
        np.asarray(test["label"].to_pylist(), dtype=object),
        matrix_of(pool, "pretrained"),
        pool["document"].to_numpy(),
        classifier,
        seed,
        start,
        step,
        stop,
    )
    store.write_table(out, catalog.ROUNDS, pa.Table.from_pylist(rows, schema=ROWS))
    return {"point": f"{strategy}/{seed}", "rounds": len(rows), "final_accuracy": rows[-1]["accuracy"]}


def report_args(_, refs: dict, config) -> list:
    return [refs["simulate"], config.selection.confidence]


@stage("simulate-report")
def simulate_report(out: Path, rounds: list[store.Ref], confidence: float) -> dict:
    """Tidy table, summary (Parquet, JSON, markdown), plot."""
    import pandas as pd

    from fewlabel.simulation import markdown, plot, summarize

    tidy = pd.concat([store.read_table(ref, catalog.ROUNDS).to_pandas() for ref in rounds], ignore_index=True)
    summary = summarize(tidy, confidence)
    store.write_table(out, catalog.SIMULATION, pa.Table.from_pandas(tidy, preserve_index=False))
    store.write_table(out, catalog.SUMMARY, pa.Table.from_pandas(summary, preserve_index=False))
    store.write_json(out, catalog.SUMMARY_JSON, summary.to_dict(orient="records"))
    seeds = tidy["seed"].nunique()
    store.output_path(out, catalog.SIMULATION_TABLE).write_text(markdown(summary, seeds), encoding="utf-8")
    plot(
        summary,
        store.output_path(out, catalog.SIMULATION_PLOT),
        f"labels chosen by strategy vs random ({seeds} seeds, {confidence:.0%} CI)",
    )
    return {"strategies": sorted(set(tidy["strategy"])), "seeds": int(seeds), "rows": len(tidy)}
