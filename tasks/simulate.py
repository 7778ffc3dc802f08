"""Stages simulate and simulate-report: one cached task per (strategy, seed) of the labeling simulation
(:func:`fewlabel.simulation.run_strategy`), then the table, summary, markdown table and plot.

A task receives its input artifact and its spec (:class:`fewlabel.specs.SimulationRun`: only what it
uses, its strategy, its seed, the round sizes and the classifier), so adding a seed or a strategy runs
only the new tasks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from fewlabel import catalog, store
from fewlabel.orchestration.stage import stage
from fewlabel.specs import SimulationRun
from fewlabel.vectors import matrix_of


def items(config) -> list[str]:
    """Every (strategy, seed) of the simulation, as ``strategy/seed``; random always included."""
    sel = config.selection
    strategies = list(dict.fromkeys(["random", *sel.strategies]))
    return [f"{s}/{sel.seed + i}" for s in strategies for i in range(sel.seeds)]


def simulate_args(item: str, refs: dict, config) -> dict:
    """The ``simulate`` task's keyword arguments for ``strategy/seed``."""
    strategy, seed = item.split("/")
    return {"features": refs["vectorize"], "spec": SimulationRun.of(strategy, int(seed), config)}


@stage("simulate", label=lambda params: f"{params['spec'].strategy}/{params['spec'].seed}")
def simulate(out: Path, features: store.Ref, spec: SimulationRun) -> dict:
    """One seed of one strategy, every round; writes ``rounds.parquet``."""
    from fewlabel.simulation import ROWS, run_strategy  # scikit-learn loads when the stage runs

    train = store.read_table(features, catalog.TRAIN, ["label", "pretrained"])
    test = store.read_table(features, catalog.TEST, ["label", "pretrained"])
    pool = store.read_table(features, catalog.UNLABELED)
    rows = run_strategy(
        spec,
        pool=matrix_of(train, "pretrained"),
        pool_labels=np.asarray(train["label"].to_pylist(), dtype=object),
        test=matrix_of(test, "pretrained"),
        test_labels=np.asarray(test["label"].to_pylist(), dtype=object),
        unlabeled=matrix_of(pool, "pretrained"),
        documents=pool["document"].to_numpy(),
    )
    store.write_table(out, catalog.ROUNDS, pa.Table.from_pylist(rows, schema=ROWS))
    return {"point": f"{spec.strategy}/{spec.seed}", "rounds": len(rows), "final_accuracy": rows[-1]["accuracy"]}


def report_args(_, refs: dict, config) -> dict:
    return {"rounds": refs["simulate"], "confidence": config.selection.confidence}


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
