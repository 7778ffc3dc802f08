"""``python -m fewlabel.cli``: the `fewlabel` command."""

from fewlabel.cli.app import entry_point

entry_point()
