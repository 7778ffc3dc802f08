"""The labeling form of the label flow: a Prefect ``RunInput`` with one field per suggested sentence.

Each field is titled by its sentence (shown once, whole up to :data:`TITLE_MAX` characters) and is a
choice among the model's classes or ``skip`` (the default). Every field is required, so the UI writes
no "(Optional)" after each sentence; its default ``skip`` is already chosen, so Submit works at once.
The instructions (what to do, the classes, what ``skip`` means) open the first field's description,
where the Prefect UI shows them above the first choice; they are also the form's own description.
Each field's description has the model's guess. The Prefect UI shows the form on the paused flow run
("Resume"); the API takes the same fields (``resume_flow_run(id, run_input={...})``).
"""

from __future__ import annotations

from typing import Any, Literal

from prefect.input import RunInput
from pydantic import ConfigDict, Field, create_model

from fewlabel.labels import SKIP

TITLE_MAX = 5000
"""Longer sentences are cut in their field's title (the whole text is in the suggestions CSV); a line of
gensim's news sample (``tiny``) runs to 3,300 characters."""


def field_name(i: int) -> str:
    return f"sentence_{i + 1}"


def title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"


def instructions(n: int, classes: list[str], strategy: str, run: str, dataset: str | None = None) -> str:
    """What to do, in one paragraph (the UI joins a description's lines into one)."""
    choices = ", ".join(f"**{c}**" for c in classes)
    store = (
        f"`data/labels/`, as labels of data set `{dataset}`: only its runs use them" if dataset else "`data/labels/`"
    )
    return (
        f"**Label these {n} sentences**, then press **Submit** at the bottom. For each sentence choose its "
        f"class: {choices}; or leave **{SKIP}** (already chosen) if you cannot tell: skipped sentences are "
        f"not stored. Submitted labels go to the label store ({store}; your own labeled file is never "
        "changed) and, if this run was started with `train_after`, a training run follows. The sentences "
        f"were chosen by the `{strategy}` strategy with the model of run `{run}`."
    )


def description(rows: list[dict], classes: list[str], strategy: str, run: str, dataset: str | None = None) -> str:
    """The form's own description (Prefect keeps it with the form): the instructions."""
    return instructions(len(rows), classes, strategy, run, dataset)


def _field_help(row: dict) -> str:
    """The model's guess, and a note when the title had to cut the sentence."""
    whole = " ".join(row["text"].split())
    guess = f"The model's guess: {row['guess']} ({row['confidence']:.0%} sure)."
    if len(whole) <= TITLE_MAX:
        return guess
    where = f"row {row['row']} of {row['origin']}"
    return f"{guess} The sentence is cut after {TITLE_MAX:,} of its {len(whole):,} characters ({where})."


def _every_field_required(schema: dict[str, Any]) -> None:
    schema["required"] = list(schema.get("properties", {}))


class LabelForm(RunInput):
    """The form's base: every field required in its JSON schema (the UI marks the others "(Optional)")."""

    model_config = ConfigDict(json_schema_extra=_every_field_required)


def label_form(rows: list[dict], classes: list[str], guide: str = "") -> type[RunInput]:
    """A RunInput model: ``sentence_1`` ... ``sentence_N``, each ``Literal[classes..., "skip"]``
    defaulting to ``skip``; ``guide`` (the instructions) opens the first field's description."""
    choice = Literal[tuple([*classes, SKIP])]  # type: ignore[valid-type]
    fields = {}
    for i, row in enumerate(rows):
        help_text = _field_help(row)
        if i == 0 and guide:
            help_text = f"{guide} {help_text}"
        fields[field_name(i)] = (choice, Field(SKIP, title=title(row["text"]), description=help_text))
    return create_model("LabelSentences", __base__=LabelForm, **fields)
