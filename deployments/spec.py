"""fewlabel's deployments, once: ``fewlabel serve`` registers them from this list, and
``deployments/prefect.yaml`` (for a work pool and workers) is generated from it
(``python -m fewlabel.deployments.spec > deployments/prefect.yaml``; a test checks the file is current).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

NIGHTLY_CRON = "0 2 * * *"
"""When the nightly loop runs (cron syntax), in :data:`TIMEZONE`."""
TIMEZONE = "UTC"
POOL = "fewlabel"
"""The process work pool of ``make deploy`` and ``make worker``."""


def schedule_text(cron: str | None = NIGHTLY_CRON, interval: float | None = None) -> str:
    """The nightly schedule in words, with its time zone (the UI's Schedules column leaves the zone out:
    "At 02:00 AM every day", "(UTC)" only in its tooltip): ``Every day at 02:00 UTC (cron "0 2 * * *",
    time zone UTC)``."""
    if interval:
        return f"Every {interval:g} s"
    cron = cron or NIGHTLY_CRON
    fields = cron.split()
    if len(fields) == 5 and fields[2:] == ["*", "*", "*"] and fields[0].isdigit() and fields[1].isdigit():
        return (
            f'Every day at {int(fields[1]):02d}:{int(fields[0]):02d} {TIMEZONE} (cron "{cron}", time zone {TIMEZONE})'
        )
    return f'On cron "{cron}", time zone {TIMEZONE}'


@dataclass(frozen=True)
class Deployment:
    """One deployment: its flow (``flows/<file>.py:<function>``), what it does, and whether it is the
    scheduled one and takes the run config as its parameter."""

    entrypoint: str
    description: str
    scheduled: bool = False
    takes_config: bool = True

    @property
    def served_name(self) -> str:
        """Its name under ``fewlabel serve``."""
        return "nightly" if self.scheduled else "on-demand"

    @property
    def pool_name(self) -> str:
        """Its name with a work pool: different, so the two never replace each other."""
        return f"{self.served_name}-pool"

    def describe(self, cron: str | None = NIGHTLY_CRON, interval: float | None = None) -> str:
        """What it does; the scheduled one starts with its schedule and time zone (:func:`schedule_text`)."""
        return f"{schedule_text(cron, interval)}: {self.description}" if self.scheduled else self.description

    def flow(self):
        """The flow object (``fewlabel.flows.<file>``: the folder installs under fewlabel)."""
        path, function = self.entrypoint.split(":")
        module = "fewlabel." + path.removesuffix(".py").replace("/", ".")
        return getattr(importlib.import_module(module), function)


DEPLOYMENTS = (
    Deployment("flows/train.py:train_flow", "Retrain on the current unlabeled text and labels"),
    Deployment("flows/curve.py:curve_flow", "Learning curve with and without pretraining"),
    Deployment(
        "flows/predict.py:predict_flow", "Classify a file of texts with the production model", takes_config=False
    ),
    Deployment(
        "flows/nightly.py:nightly_flow",
        "train, promote the model only if it is not worse, predict the inbox with production, ask for labels if "
        "nightly.label says so",
        scheduled=True,
    ),
    Deployment("flows/suggest.py:suggest_flow", "Suggest the unlabeled sentences to label next", takes_config=False),
    Deployment(
        "flows/label.py:label_flow",
        "Label suggested sentences in the UI (the paused run's Resume form), then retrain if asked",
        takes_config=False,
    ),
)

HEADER = f"""\
# GENERATED from deployments/spec.py by `python -m fewlabel.deployments.spec > deployments/prefect.yaml`:
# edit the list there, not this file (tests/test_packaging.py checks that they agree).
#
# Deployments for a Prefect work pool (process workers), from the project folder:
#   make deploy            # creates the '{POOL}' process work pool, then: prefect deploy --all
#   make worker            # prefect worker start --pool {POOL}
# Their names end in -pool, so they never replace the ones `fewlabel serve` registers. The nightly
# loop runs on the cron schedule below, in {TIMEZONE}; the others run on demand. The UI's Schedules column
# shows the time without its zone (its tooltip adds it), so the nightly description states it.
# Parameters default to the built-in config: override them per run in the UI or with
#   prefect deployment run fewlabel-nightly/nightly-pool --param config='{{"data": {{"labels_per_class": 16}}}}'
# e.g. pause every night for 20 sentences to label in the UI (the run's Resume form, up to 12 h):
#   --param config='{{"nightly": {{"label": "form"}}, "selection": {{"n": 20}}}}'
# Never put secrets here: database URLs and auth strings belong in environment variables.
"""


def prefect_yaml() -> str:
    """The text of ``deployments/prefect.yaml``, from :data:`DEPLOYMENTS`."""
    from importlib.metadata import version

    import yaml

    from fewlabel.orchestration.settings import HEARTBEAT_SECONDS

    entries = []
    for d in DEPLOYMENTS:
        entry = {
            "name": d.pool_name,
            "entrypoint": d.entrypoint,
            "description": d.describe(),
            "tags": ["fewlabel", "command:worker"],
        }
        if d.scheduled:
            entry["schedules"] = [{"cron": NIGHTLY_CRON, "timezone": TIMEZONE}]
        entry["work_pool"] = {
            "name": POOL,
            "job_variables": {"env": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS)}},
        }
        entries.append(entry)
    body = {
        "name": "fewlabel",
        "prefect-version": version("prefect"),
        "build": None,
        "push": None,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}],
        "deployments": entries,
    }
    return HEADER + yaml.safe_dump(body, sort_keys=False, width=1000)


if __name__ == "__main__":
    import sys

    sys.stdout.write(prefect_yaml())
