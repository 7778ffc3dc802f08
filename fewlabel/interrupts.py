"""Ctrl-C and SIGTERM: they stop a command, and nothing computed while one arrived is ever stored.

Some libraries catch ``KeyboardInterrupt`` and carry on: scikit-learn's MLP stops its epoch loop,
warns "Training interrupted by user" and returns a half-fitted model. So the handlers installed by
:func:`install` also count every signal, and a stage that finished while one arrived raises instead
of storing its artifact (:func:`raise_if_interrupted_since`, called by the ``@stage`` wrapper), and the
classifier's fits check after each MLP fit, so an interrupted train stage stops at once instead of
fitting on (:func:`fewlabel.model.fit_estimator`).
"""

from __future__ import annotations

import signal
import threading

_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so the same clean-up runs."""


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _handler(signum, frame) -> None:
    _received.append(signum)
    raise _interrupt(signum)


def install() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt / :class:`Terminated` in the main thread, counted.
    (Only the main thread may set signal handlers: elsewhere nothing changes.)"""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)


def received() -> int:
    """How many stopping signals this process has received so far (a mark for
    :func:`raise_if_interrupted_since`)."""
    return len(_received)


def raise_if_interrupted_since(mark: int) -> None:
    """Raise the interruption if a signal arrived since ``mark``, even if some code swallowed it."""
    if len(_received) > mark:
        raise _interrupt(_received[-1])
