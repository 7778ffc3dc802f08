"""Serve fewlabel's flows from one long-running process (``fewlabel serve``; Prefect's flow.serve): six
deployments.

- ``fewlabel-nightly/nightly``: the nightly loop (train, promotion gate, predict the inbox with the
  production model, and with ``nightly.label`` suggest sentences to label or pause for them in the UI,
  as subflows) on a cron schedule (default 02:00 UTC every day) or an interval,
  with the config given to ``fewlabel serve`` as its default parameters;
- ``fewlabel-train/on-demand``: the training flow alone, run on demand (the nightly loop runs it);
- ``fewlabel-curve/on-demand``: the learning curve, run from the UI or ``prefect deployment run``;
- ``fewlabel-predict/on-demand``: classify a file with the production model (``input_path`` required);
- ``fewlabel-suggest/on-demand`` and ``fewlabel-label/on-demand``: sentences to label next, as a CSV or
  as the labeling form of a paused run.

The UI's Schedules column shows a cron schedule's time in the schedule's own time zone without naming
it ("At 02:00 AM every day"; its tooltip adds "(UTC)"), beside the next run's time in the browser's
zone: the nightly deployment's description therefore states its schedule with the zone.

For a work pool and workers instead of one process, see ``deployments/prefect.yaml``.
"""

from __future__ import annotations

from fewlabel.config import Config

NIGHTLY = "0 2 * * *"
TIMEZONE = "UTC"
"""Schedules are stated in UTC, here and in prefect.yaml."""


def deployments(
    config: Config,
    cron: str | None = NIGHTLY,
    interval: float | None = None,
    dask_address: str | None = None,
    dask_workers: int | None = None,
) -> list:
    """The six deployments; the nightly loop scheduled by ``interval`` seconds if given, else ``cron``.

    Their mapped stages run on a Dask cluster when ``dask_address`` / ``dask_workers`` (or the
    settings FEWLABEL_DASK_ADDRESS / FEWLABEL_DASK_WORKERS) ask for one.
    """
    from fewlabel.flows.curve import curve_flow
    from fewlabel.flows.nightly import nightly_flow
    from fewlabel.flows.predict import predict_flow
    from fewlabel.flows.train import train_flow

    from fewlabel.orchestration.runner import with_runner

    train_flow, curve_flow, predict_flow = (
        with_runner(f, dask_address, dask_workers) for f in (train_flow, curve_flow, predict_flow)
    )

    from prefect.schedules import Cron, Interval

    parameters = {"config": config.model_dump(mode="json")}
    schedule = Interval(interval, timezone=TIMEZONE) if interval else Cron(cron, timezone=TIMEZONE)
    when = schedule_text(cron, interval)
    return [
        train_flow.to_deployment(
            name="on-demand",
            parameters=parameters,
            tags=["fewlabel", "command:serve"],
            description="Retrain on the current unlabeled text and labels",
        ),
        curve_flow.to_deployment(
            name="on-demand",
            parameters=parameters,
            tags=["fewlabel", "command:serve"],
            description="Learning curve with and without pretraining",
        ),
        predict_flow.to_deployment(
            name="on-demand",
            tags=["fewlabel", "command:serve"],
            description="Classify a file of texts with the production model",
        ),
        nightly_flow.to_deployment(
            name="nightly",
            parameters=parameters,
            tags=["fewlabel", "command:serve"],
            schedule=schedule,
            description=f"{when}: train, promote the model only if it is not worse, predict the inbox with "
            "production, ask for labels if nightly.label says so",
        ),
        *labeling_deployments(),
    ]


def schedule_text(cron: str | None = NIGHTLY, interval: float | None = None) -> str:
    """The nightly schedule in words, with its time zone (the UI's schedule badge leaves the zone out):
    ``Every day at 02:00 UTC (cron "0 2 * * *", time zone UTC)``."""
    if interval:
        return f"Every {interval:g} s"
    fields = (cron or NIGHTLY).split()
    if len(fields) == 5 and fields[2:] == ["*", "*", "*"] and fields[0].isdigit() and fields[1].isdigit():
        return (
            f'Every day at {int(fields[1]):02d}:{int(fields[0]):02d} {TIMEZONE} (cron "{cron}", time zone {TIMEZONE})'
        )
    return f'On cron "{cron}", time zone {TIMEZONE}'


def labeling_deployments() -> list:
    """``fewlabel-suggest/on-demand`` (a suggestions CSV) and ``fewlabel-label/on-demand`` (suggest, label in
    the UI's form, store, optionally retrain)."""
    from fewlabel.flows.label import label_flow
    from fewlabel.flows.suggest import suggest_flow

    return [
        suggest_flow.to_deployment(
            name="on-demand", tags=["fewlabel"], description="Suggest the unlabeled sentences to label next"
        ),
        label_flow.to_deployment(
            name="on-demand",
            tags=["fewlabel"],
            description="Label suggested sentences in the UI (the paused run's Resume form), then retrain if asked",
        ),
    ]


def serve(
    config: Config,
    cron: str | None = NIGHTLY,
    interval: float | None = None,
    dask_address: str | None = None,
    dask_workers: int | None = None,
) -> None:
    """Register the deployments with the Prefect server and run their flow runs until stopped; the
    server gets the automation that marks runs whose process died Crashed."""
    from prefect import serve as prefect_serve

    from fewlabel.orchestration.lifecycle import ensure_zombie_automation

    ensure_zombie_automation()
    prefect_serve(*deployments(config, cron, interval, dask_address, dask_workers))
