"""Stage train: one MLP per arm on the training vectors (:mod:`fewlabel.model`), saved with skops.

Writes ``pretrained.skops`` and ``no_pretraining.skops`` (:mod:`fewlabel.modelio`: no pickle) beside
``metadata.json`` (config, classes, iterations, input artifact hashes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fewlabel import catalog, store
from fewlabel.config import ClassifierConfig
from fewlabel.orchestration.stage import stage
from fewlabel.vectors import ARMS, matrix_of


@stage("train")
def train(out: Path, vectorize: store.Ref, config: ClassifierConfig) -> dict:
    """Fit one classifier per arm (the pretrained arm with document pseudo-labels, :func:`fit_pretrained`);
    write the models and their metadata. Every fit logs a line, and a running one every 10 s
    (:class:`fewlabel.fitting.Progress`)."""
    from fewlabel.fitting import Progress
    from fewlabel.model import fit_pretrained, fit_selected, iterations, title_of  # loaded when the stage runs
    from fewlabel.modelio import dump_model

    table = store.read_table(vectorize, catalog.TRAIN)
    y = np.asarray(table["label"].to_pylist(), dtype=object)
    unlabeled = store.read_table(vectorize, catalog.UNLABELED)
    stats = {}
    for arm in ARMS:
        X = matrix_of(table, arm)
        with Progress(f"train: {arm} arm") as progress:
            if arm == "pretrained":
                model, base, converged, selection = fit_pretrained(
                    X, y, config, matrix_of(unlabeled, "pretrained"), unlabeled["document"].to_numpy(), progress
                )
            else:
                model, converged, selection = fit_selected(X, y, config, progress, f"labels-only {title_of(config)}")
                base = model
        store.output_path(out, catalog.MODELS[arm]).write_bytes(dump_model(model))
        stats[arm] = {
            "iterations": iterations(base),
            "converged": converged,
            "alpha": None if selection["alpha"] is None else float(selection["alpha"]),
            "cv_folds": selection["folds"],
            "cv_accuracy": {str(a): s for a, s in selection["scores"].items()},
        }
        if "pseudo" in selection:
            stats[arm]["pseudo_labels"] = selection["pseudo"]
    store.write_json(
        out,
        catalog.METADATA,
        {
            "config": config.model_dump(mode="json"),
            "classes": [str(c) for c in model.classes_],
            "train_rows": len(y),
            "inputs": {"vectorize": vectorize["sha256"]},
            "fits": stats,
        },
    )
    return {"classes": [str(c) for c in model.classes_], "train_rows": len(y), **stats}
