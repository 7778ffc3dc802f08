"""The labeling form of the label flow: a Prefect ``RunInput`` with one field per suggested sentence.

Each field is titled by its sentence and is a choice among the model's classes or ``skip`` (the
default); the form's markdown description says what to do. The Prefect UI shows it on the paused
flow run ("Resume"); the API takes the same fields (``resume_flow_run(id, run_input={...})``).
"""

from __future__ import annotations

from typing import Literal

from prefect.input import RunInput
from pydantic import Field, create_model

from fewlabel.labels import SKIP

TITLE_MAX = 300


def field_name(i: int) -> str:
    return f"sentence_{i + 1}"


def title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"


def _for(dataset: str | None) -> str:
    return f", as labels of data set `{dataset}`: only its runs use them" if dataset else ""


def description(rows: list[dict], classes: list[str], strategy: str, run: str, dataset: str | None = None) -> str:
    return "\n".join(
        [
            "## Label these sentences",
            "",
            f"For each sentence below choose its class: **{'**, **'.join(classes)}**, or **{SKIP}** if you cannot "
            "tell (skipped sentences are not stored). Then press **Submit**: the labels are added to the label "
            f"store (`data/labels/`{_for(dataset)}; your own labeled file is never changed) and, if this run was "
            "started with `train_after`, a training run starts.",
            "",
            f"{len(rows)} sentences chosen by the `{strategy}` strategy with the model of run `{run}`; the model's "
            "guess for each is in the table artifact `fewlabel-suggestions`.",
        ]
    )


def _field_help(row: dict) -> str:
    """The model's guess, and the whole sentence when the title had to cut it."""
    whole = " ".join(row["text"].split())
    guess = f"model's guess: {row['guess']} ({row['confidence']:.0%})"
    return guess if len(whole) <= TITLE_MAX else f"{whole}\n\n{guess}"


def label_form(rows: list[dict], classes: list[str]) -> type[RunInput]:
    """A RunInput model: ``sentence_1`` ... ``sentence_N``, each ``Literal[classes..., "skip"]``."""
    choice = Literal[tuple([*classes, SKIP])]  # type: ignore[valid-type]
    fields = {
        field_name(i): (choice, Field(SKIP, title=title(row["text"]), description=_field_help(row)))
        for i, row in enumerate(rows)
    }
    return create_model("LabelSentences", __base__=RunInput, **fields)
