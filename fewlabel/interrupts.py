"""Ctrl-C and SIGTERM: they stop a command, and nothing computed while one arrived is ever stored.

Some libraries catch ``KeyboardInterrupt`` and carry on: scikit-learn's MLP stops its epoch loop,
warns "Training interrupted by user" and returns a half-fitted model. So the handlers installed by
:func:`install` (the console script only) also count every signal: a stage that finished while one
arrived raises instead of storing its artifact (:func:`raise_if_interrupted_since`, called by the
``@stage`` wrapper), and the classifier checks before and after each fit (:func:`check`), so work in
other threads (curve points) stops at its next fit instead of running to its end.

If the command is still alive a grace period after the signal (a library waiting on threads that do
not check), :func:`install`'s ``on_stuck`` ends it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

_received: list[int] = []
_watchdog: threading.Thread | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so the same clean-up runs."""


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def install(on_stuck: Callable[[int], None] | None = None, grace: float = 10.0) -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt / :class:`Terminated` in the main thread, counted;
    ``on_stuck(signum)`` runs ``grace`` seconds after the first one if the process still runs. (Only the
    main thread may set signal handlers: elsewhere nothing changes.)"""

    def handler(signum, frame) -> None:
        global _watchdog
        _received.append(signum)
        if on_stuck is not None and _watchdog is None:
            _watchdog = threading.Timer(grace, on_stuck, args=(signum,))
            _watchdog.daemon = True
            _watchdog.start()
        raise _interrupt(signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def received() -> int:
    """How many stopping signals this process has received so far (a mark for
    :func:`raise_if_interrupted_since`)."""
    return len(_received)


def raise_if_interrupted_since(mark: int) -> None:
    """Raise the interruption if a signal arrived since ``mark``, even if some code swallowed it."""
    if len(_received) > mark:
        raise _interrupt(_received[-1])


def check() -> None:
    """Raise the interruption if the process was ever told to stop (in any thread: work that has not
    started yet is never started)."""
    raise_if_interrupted_since(0)
