"""The `fewlabel` command: one parser per command group, one way to run a flow (:mod:`.launch`), one
mapping of errors to exit codes (:mod:`.exits`).

Groups: :mod:`.training` (run, retry, plan, config, cache gc), :mod:`.curves` (curve, suite, simulate),
:mod:`.labeling` (suggest, labels), :mod:`.models` (predict, models, promote, rollback) and
:mod:`.server` (server, serve, fetch).
"""

from __future__ import annotations

from fewlabel.cli.app import entry_point, main, parser

__all__ = ["entry_point", "main", "parser"]
