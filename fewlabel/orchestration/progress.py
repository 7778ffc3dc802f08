"""Progress of long steps: log lines everywhere, plus a Prefect progress artifact inside a run."""

from __future__ import annotations

import logging

from fewlabel.errors import UserError

log = logging.getLogger(__name__)


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task run, this module's logger elsewhere."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return log


class RunLogs(logging.Handler):
    """Sends the core's log records (the ``fewlabel`` logger: corpus sizes, sentences with no known
    word, artifacts built or reused) to the current Prefect run's logs in the API, so they show in the
    UI beside the run's own lines. The terminal gets them as any logger's records, through the root
    logger's handlers (Prefect's console handler inside a run); outside a run, with no handler
    configured, warnings still reach stderr."""

    def __init__(self):
        super().__init__()
        self._api = None

    def emit(self, record: logging.LogRecord) -> None:
        if in_run():
            if self._api is None:
                from prefect.logging.handlers import APILogHandler

                self._api = APILogHandler()
            self._api.handle(record)
        elif record.levelno >= logging.WARNING and not logging.getLogger().handlers:
            logging.lastResort.handle(record)  # what Python does for a logger without handlers


class NoUserErrorTraceback(logging.Filter):
    """A user error is reported in one line, in the terminal and in the UI: its traceback helps nobody."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], UserError):
            record.exc_info, record.exc_text = None, None
        return True


def route_core_logs() -> None:
    """Attach :class:`RunLogs` to the ``fewlabel`` logger, and :class:`NoUserErrorTraceback` to every
    handler Prefect has set up, once (every launcher imports the stages, and with them this module)."""
    core = logging.getLogger("fewlabel")
    if any(isinstance(h, RunLogs) for h in core.handlers):
        return
    core.addHandler(RunLogs())
    core.setLevel(logging.INFO)
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, NoUserErrorTraceback) for f in handler.filters):
                handler.addFilter(NoUserErrorTraceback())


def in_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return TaskRunContext.get() is not None or FlowRunContext.get() is not None


class Tracker:
    """Logs each finished step and advances a progress artifact in the Prefect UI."""

    def __init__(self, key: str, description: str):
        self.description, self.seconds, self.artifact = description, 0.0, None
        if in_run():
            from prefect.artifacts import create_progress_artifact

            self.artifact = create_progress_artifact(progress=0.0, key=key, description=description)

    def update(self, step: int, total: int, seconds: float) -> None:
        self.seconds = seconds
        run_logger().info("%s: %d/%d (%.1f s)", self.description, step, total, seconds)
        if self.artifact is not None:
            from prefect.artifacts import update_progress_artifact

            update_progress_artifact(self.artifact, progress=100.0 * step / total)
