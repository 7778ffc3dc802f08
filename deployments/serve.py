"""Serve fewlabel's flows from one long-running process (``fewlabel serve``; Prefect's flow.serve).

Every deployment of :data:`fewlabel.deployments.spec.DEPLOYMENTS` (six): the nightly loop
(``fewlabel-nightly/nightly``: train, promotion gate, predict the inbox with the production model, and
with ``nightly.label`` suggest sentences to label or pause for them in the UI, as subflows) on a cron
schedule (default 02:00 UTC every day) or an interval, with the config given to ``fewlabel serve`` as
its default parameters; training, the learning curve, predict, suggest and label on demand
(``<flow>/on-demand``).

The UI's Schedules column shows a cron schedule's time in the schedule's own time zone without naming
it ("At 02:00 AM every day"; its tooltip adds "(UTC)"), beside the next run's time in the browser's
zone: the nightly deployment's description therefore states its schedule with the zone.

For a work pool and workers instead of one process, see ``deployments/prefect.yaml``.
"""

from __future__ import annotations

from fewlabel.config import Config
from fewlabel.deployments.spec import DEPLOYMENTS, NIGHTLY_CRON, TIMEZONE


def deployments(
    config: Config,
    cron: str | None = NIGHTLY_CRON,
    interval: float | None = None,
    dask_address: str | None = None,
    dask_workers: int | None = None,
) -> list:
    """Every deployment; the nightly loop scheduled by ``interval`` seconds if given, else ``cron``.

    Their mapped stages run on a Dask cluster when ``dask_address`` / ``dask_workers`` (or the
    settings FEWLABEL_DASK_ADDRESS / FEWLABEL_DASK_WORKERS) ask for one.
    """
    from prefect.schedules import Cron, Interval

    from fewlabel.orchestration.runner import with_runner

    parameters = {"config": config.model_dump(mode="json")}
    schedule = Interval(interval, timezone=TIMEZONE) if interval else Cron(cron, timezone=TIMEZONE)
    return [
        with_runner(d.flow(), dask_address, dask_workers).to_deployment(
            name=d.served_name,
            parameters=parameters if d.takes_config else None,
            tags=["fewlabel", "command:serve"],
            schedule=schedule if d.scheduled else None,
            description=d.describe(cron, interval),
        )
        for d in DEPLOYMENTS
    ]


def check_cron(cron: str) -> str:
    """``cron`` if Prefect accepts it as a schedule, else a one-line error."""
    from prefect.schedules import Cron

    from fewlabel.errors import UserError

    try:
        Cron(cron, timezone=TIMEZONE)
    except ValueError:
        raise UserError(
            f"--cron {cron[:60]!r}: not a cron schedule; e.g. '0 2 * * *' (02:00 every day, {TIMEZONE})"
        ) from None
    return cron


def serve(
    config: Config,
    cron: str | None = NIGHTLY_CRON,
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
