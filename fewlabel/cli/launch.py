"""The one way a command runs a flow: where its mapped stages run, the server it reports to, its tags,
and how its end is reported."""

from __future__ import annotations

import argparse
import json

from fewlabel.cli.exits import RunFailed, one_line
from fewlabel.errors import UserError


def launch(flow, args: argparse.Namespace, *params, retry_of: str | None = None, **kwargs):
    """Run ``flow(*params, **kwargs)`` for the command ``args.command``; its result.

    - its mapped stages run where ``--dask-address`` / ``--dask-workers`` (or their settings) say;
    - without ``PREFECT_API_URL`` it reports to this command's temporary server, started here once;
    - it is tagged ``fewlabel``, ``command:<command>`` (and ``retry-of:<id>``);
    - a failure is one line: a :class:`~fewlabel.errors.UserError` as itself, anything else as
      :class:`~fewlabel.cli.exits.RunFailed` naming the flow run and ``fewlabel retry``; with ``--json``
      the last stdout line is ``{"error", "flow_run_id"}``.
    """
    import os

    from fewlabel.orchestration.runner import with_runner
    from fewlabel.orchestration.server import start_temporary

    flow = with_runner(flow, getattr(args, "dask_address", None), getattr(args, "dask_workers", None))
    if not os.environ.get("PREFECT_API_URL"):
        start_temporary(args.command)
    from prefect import tags

    labels = ["fewlabel", f"command:{args.command}", *([f"retry-of:{retry_of}"] if retry_of else [])]
    with tags(*labels):
        state = flow(*params, return_state=True, **kwargs)
    if state.is_completed():
        return state.result()
    exc = state.result(raise_on_failure=False)
    run_id = str(state.state_details.flow_run_id)
    if getattr(args, "json", False):
        print(json.dumps({"error": one_line(exc), "flow_run_id": run_id}))
    if isinstance(exc, UserError):
        raise exc
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    raise RunFailed(
        f"{one_line(exc)} (flow run {run_id}); the stages that finished are kept: fix the cause, "
        f"then `fewlabel retry {run_id}` reruns only what is missing"
    )
