"""How a command ends: every exception a command can raise mapped to one line on stderr and one exit
status, in one place.

| status | when |
|---:|---|
| 0 | done |
| 1 | a flow run failed for a reason that is not the user's input (:class:`RunFailed`) |
| 2 | the user's input or config is wrong (:class:`~fewlabel.errors.UserError`), or the command line is |
| 3 | the Prefect server stopped answering |
| 130 / 143 | interrupted by Ctrl-C (SIGINT) / stopped by SIGTERM |
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from fewlabel.errors import UserError
from fewlabel.interrupts import Terminated

OK = 0
RUN_FAILED = 1
USER_ERROR = 2
PREFECT_UNREACHABLE = 3
INTERRUPTED = 128 + signal.SIGINT  # 130, as shells report it
TERMINATED = 128 + signal.SIGTERM  # 143


class RunFailed(Exception):
    """A flow run failed for a reason that is not the user's input: one line, with the way out."""


def one_line(exc: BaseException | str) -> str:
    """A message as promised: one line, whatever it embeds."""
    return " ".join(str(exc).split())


INTERRUPTED_LINE = "interrupted: finished stages are kept"
"""What a command that runs flows says when Ctrl-C or SIGTERM ends it (a server says ``stopped``)."""


def guarded(command: Callable[[], int], interrupted: str = INTERRUPTED_LINE) -> int:
    """Run ``command``; map what it raises to a line on stderr and an exit status (module docstring);
    ``interrupted`` is the line it prints when Ctrl-C or SIGTERM ends it."""
    try:
        return command()
    except KeyboardInterrupt as exc:
        print(interrupted, file=sys.stderr, flush=True)
        return TERMINATED if isinstance(exc, Terminated) else INTERRUPTED
    except UserError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return USER_ERROR
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return RUN_FAILED
    except Exception as exc:
        url = lost_prefect_api(exc)
        if url is None:
            raise
        from fewlabel.orchestration.settings import drop_undeliverable_telemetry
        from fewlabel.store import data_dir

        drop_undeliverable_telemetry()
        print(
            f"error: lost the connection to the Prefect server at {url} ({type(exc).__name__}: "
            f"{exc}); the stages that finished are kept in {data_dir()} and the next run reuses "
            "them: restart the server (or unset PREFECT_API_URL to use a temporary one) and run "
            "again",
            file=sys.stderr,
        )
        return PREFECT_UNREACHABLE


def lost_prefect_api(exc: BaseException) -> str | None:
    """The Prefect API's URL if ``exc`` (or an exception it came from) failed to reach that API."""
    import httpx

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, httpx.TransportError):
            from fewlabel.orchestration.settings import api_description

            return api_description()
        exc = exc.__cause__ or exc.__context__
    return None
