"""How fits run: BLAS on one thread (:func:`one_blas_thread`), and progress lines for long fits
(:class:`Progress`)."""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from contextlib import contextmanager

import numpy as np
from threadpoolctl import threadpool_limits

log = logging.getLogger("fewlabel.model")

_blas = {"lock": threading.Lock(), "depth": 0, "limiter": None}


@contextmanager
def one_blas_thread():
    """BLAS (OpenBLAS, MKL) on one thread inside: the MLP's products are small (a mini-batch of 200 rows x
    300 x 32), and OpenBLAS's threads spend more CPU waiting for each other than computing them. On MR's
    train stage (2 cores, loaded) an epoch over 10,000 rows took 0.027 CPU s on one thread and 0.36 to
    0.47 CPU s on two, with bitwise the same weights and probabilities. The limit is process-wide, so
    it is counted: with several threads inside (the curve's points run in a thread pool), the first
    one in sets it and the last one out restores it, so no thread's fit is put back on two threads
    while another still runs. (OpenBLAS 0.3.31 ignores a thread raising the count another thread
    lowered: when the last one out is not the first one in, one thread stays.)"""
    with _blas["lock"]:
        if _blas["depth"] == 0:
            _blas["limiter"] = threadpool_limits(1, user_api="blas")
        _blas["depth"] += 1
    try:
        yield
    finally:
        with _blas["lock"]:
            _blas["depth"] -= 1
            if _blas["depth"] == 0:
                _blas["limiter"].restore_original_limits()
                _blas["limiter"] = None


def on_one_blas_thread(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return fn(*args, **kwargs)

    return wrapper


def _epochs(estimator) -> int | None:
    """The epochs (iterations) a fitting or fitted estimator has run, if it says (the largest, per class)."""
    n = getattr(estimator, "n_iter_", None)
    return None if n is None else int(max(np.atleast_1d(n)))


class Progress:
    """Log lines of a long fit (the ``fewlabel.model`` logger: the terminal and, in a run, its logs).

    :meth:`within` names the part being fitted (``pretrained arm``, ``safeguard fold 2/3``,
    ``pseudo-label round 1/2``); each finished MLP fit logs one line with that path, its rows, epochs
    and seconds; and while one fit runs, a line every ``every`` seconds without any other says which one
    and at which epoch. ``Progress(None)`` logs nothing. Use it as a context manager (it starts and
    stops the thread that writes those lines)."""

    def __init__(self, prefix: str | None, every: float = 10.0, logger: logging.Logger = log):
        self.prefix, self.every, self.logger = prefix, every, logger
        self.path: list[str] = []
        self.current: tuple[str, float, object] | None = None  # (what, start, estimator) of the running fit
        self.last = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.prefix is not None:
            self.last = time.monotonic()
            # the caller's context goes along: inside a Prefect run, the run's log handler finds the run in it
            context = contextvars.copy_context()
            self._thread = threading.Thread(
                target=context.run, args=(self._beat,), name="fewlabel-fit-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def say(self, message: str, *args) -> None:
        if self.prefix is not None:
            self.last = time.monotonic()
            where = ": ".join([self.prefix, *self.path])
            self.logger.info("%s: " + message, where, *args)

    @contextmanager
    def within(self, part: str):
        self.path.append(part)
        try:
            yield
        finally:
            self.path.pop()

    @contextmanager
    def fitting(self, what: str, estimator=None):
        """One fit: ``estimator`` (an MLP), if given, tells the waiting lines its epoch."""
        start = time.monotonic()
        self.current = (what, start, estimator)
        try:
            yield
        finally:
            self.current = None
        epochs = _epochs(estimator)
        self.say("%s: %s%.1f s", what, "" if epochs is None else f"{epochs} epochs, ", time.monotonic() - start)

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.every)):
            current = self.current
            if current is None or time.monotonic() - self.last < self.every:
                continue
            what, start, estimator = current
            epochs = _epochs(estimator)
            self.say(
                "%s: running, %s%.0f s", what, "" if epochs is None else f"epoch {epochs}, ", time.monotonic() - start
            )


NO_PROGRESS = Progress(None)
"""Logs nothing: the default of every fit (the curve's draws and the simulation's rounds stay quiet)."""
