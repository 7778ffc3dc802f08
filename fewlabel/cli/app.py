"""The `fewlabel` parser, assembled from the command groups, and the command's entry point.

User errors (bad input, bad config) print one line, ``error: ...``, and exit 2, without a traceback
(:mod:`fewlabel.cli.exits` has every exit status). Progress goes to stderr (Prefect's log lines per
stage and per Word2Vec epoch); results to stdout.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

from fewlabel.cli import curves, exits, labeling, models, server, training
from fewlabel.cli.options import Parser

GROUPS = (training, curves, labeling, models, server)
"""The command groups, each adding its commands with ``add_parsers(subparsers)``, in --help's order."""


def parser() -> Parser:
    p = Parser(
        prog="fewlabel",
        description="Text classification with few labels: Word2Vec pretraining on unlabeled text, averaged "
        "sentence vectors and a small classifier, as cached Prefect flows.",
        epilog="`fewlabel COMMAND --help` describes a command.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one `fewlabel` command; its exit status."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as done:  # --help, or a command line argparse refused (one line, status 2)
        return int(done.code or 0)
    from fewlabel.orchestration.server import stop_temporary
    from fewlabel.orchestration.settings import project_environment

    project_environment()
    # the train stage records each fit's iterations and convergence in its stats and report
    warnings.filterwarnings("ignore", message=".*(Maximum iterations|failed to converge).*")
    try:
        return exits.guarded(lambda: args.func(args), getattr(args, "interrupted", exits.INTERRUPTED_LINE))
    finally:
        stop_temporary()  # after the run was marked (also when interrupted): never left behind


def _end_now(signum: int) -> None:
    """The command is still alive well after Ctrl-C or SIGTERM (a library waiting on threads that do not
    check): say so, stop its temporary server and end the process."""
    from fewlabel.orchestration.server import stop_temporary

    print(exits.INTERRUPTED_LINE, file=sys.stderr, flush=True)
    try:
        stop_temporary()
    finally:
        os._exit(exits.TERMINATED if signum == signal.SIGTERM else exits.INTERRUPTED)


def entry_point() -> None:
    """The console script: :func:`main`, with SIGTERM handled as Ctrl-C (both counted, so no stage stores
    what it computed while one arrived: :mod:`fewlabel.interrupts`). After an interruption
    the process ends at once, once the run is marked and its server stopped: stage threads still
    computing would otherwise keep it alive until they finish."""
    from fewlabel.interrupts import install

    install(on_stuck=_end_now)
    code = main()
    if code in (exits.INTERRUPTED, exits.TERMINATED):
        from fewlabel.orchestration.server import drain_prefect_services

        drain_prefect_services()  # the run's last log lines, to a server of the user's
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
