"""The environment every launcher needs: where Prefect keeps its state and cache records, and where
the data folder is. Set before Prefect is imported."""

from __future__ import annotations

import os
from pathlib import Path

from fewlabel.store import data_dir


def project_environment() -> None:
    """Keep Prefect's state inside the project folder and quiet offline (before importing prefect)."""
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))
    # cache records beside the artifacts they point to: a data folder is self-contained, and two data
    # folders never share (or race on) records
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(data_dir() / ".prefect-records"))
    os.environ["FEWLABEL_DATA_DIR"] = str(data_dir())  # absolute: task runner workers may start elsewhere
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
