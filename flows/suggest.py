"""The suggest flow: which unlabeled sentences to label next, as a CSV and a table artifact."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from fewlabel.orchestration.publish import publish_suggestions
from fewlabel.selection import DEFAULT
from fewlabel.tasks.suggest import suggest


@flow(name="fewlabel-suggest", description="Suggest the unlabeled sentences whose labels should help most.")
def suggest_flow(run: str = "latest", n: int = 20, strategy: str = DEFAULT, pool_max: int = 100_000, seed: int = 0):
    """Writes data/labels/suggestions-<flow run id>.csv; fill in its label column, then
    ``fewlabel labels add`` it.

    Args:
        run: The training run whose model scores the unlabeled sentences: latest, or a flow-run id.
        n: How many sentences to suggest.
        strategy: How to choose them: one of the selection strategies (fewlabel/selection.py describes each).
        pool_max: Score at most this many unlabeled sentences (a seeded sample).
        seed: The seed of that sample and of the strategies that draw at random.
    """
    result = suggest(run, strategy, n, pool_max, seed, str(flow_run.id))
    publish_suggestions(result)
    return {k: v for k, v in result.items() if k != "rows"}
