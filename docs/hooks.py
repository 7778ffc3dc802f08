"""mkdocs hooks of fewlabel's documentation site (``hooks:`` in mkdocs.yml).

- **Mounts** the measurement files where they live (``experiments/``, ``bench/RESULTS.md``,
  ``data/README.md``) into the site under the same paths, so they are rendered without being copied.
- **Rewrites repository-relative links**: a page under ``docs/`` links to ``../../experiments/suite.md``
  (a link that works on GitHub and in a local checkout); in the site that file is ``experiments/suite.md``,
  and the link is rewritten to it. A link to a repository file that is not in the site stays as it is,
  and ``mkdocs build --strict`` fails on it.
- **Generates the references** at build time: the configuration reference from the pydantic models
  (``fewlabel.config.Config``; a key that takes one of several kinds of section, such as
  ``classifier.estimator``, gets a table per kind) in place of ``<!-- generated: config-reference -->``,
  the default config file in place of ``<!-- generated: config-defaults -->``, the command-line
  reference from ``fewlabel.cli``'s argparse parser (each command's help line and description) in place
  of ``<!-- generated: cli-reference -->``, and the list of modules with their docstrings in place of
  ``<!-- generated: module-index -->``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import posixpath
import re
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
MOUNTS = ("experiments/*.md", "experiments/*.png", "experiments/*.py", "bench/RESULTS.md", "data/README.md")
"""Repository files rendered (or, for images and scripts, copied) into the site at the same path."""

_mounted: dict[Path, str] = {}  # absolute source path -> src_uri in the site


# ----------------------------------------------------------------------------------------------------- files


def on_files(files: Files, config) -> Files:
    _mounted.clear()
    for pattern in MOUNTS:
        for path in sorted(ROOT.glob(pattern)):
            uri = path.relative_to(ROOT).as_posix()
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"docs/{uri} would hide the mounted {uri}: remove one of them")
            files.append(File(uri, src_dir=str(ROOT), dest_dir=config["site_dir"], use_directory_urls=True))
            _mounted[path.resolve()] = uri
    return files


LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def _rewrite_links(markdown: str, page) -> str:
    """Repository-relative links to mounted files, rewritten to the mounted file's path in the site."""
    source = Path(page.file.abs_src_path).resolve().parent
    here = posixpath.dirname(page.file.src_uri)

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
            return match.group(0)
        path, sep, anchor = target.partition("#")
        mounted = _mounted.get(Path(os.path.normpath(source / path)))
        if mounted is None:
            return match.group(0)
        return match.group(1) + posixpath.relpath(mounted, here or ".") + sep + anchor + match.group(3)

    # code blocks keep their text: split on fenced blocks and rewrite outside them only
    parts = re.split(r"(^```.*?^```)", markdown, flags=re.M | re.S)
    return "".join(p if p.startswith("```") else LINK.sub(fix, p) for p in parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = _rewrite_links(markdown, page)
    for marker, generate in GENERATED.items():
        pattern = re.compile(rf"^([ \t]*)<!-- generated: {re.escape(marker)} -->[ \t]*$", re.M)
        found = pattern.search(markdown)
        if found:
            # the marker's indentation applies to every generated line (e.g. inside an admonition)
            indent = found.group(1)
            text = "\n".join(indent + line if line else "" for line in generate().split("\n"))
            markdown = markdown[: found.start()] + text + markdown[found.end() :]
    return markdown


# --------------------------------------------------------------------------------------- config reference


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, *metadata]`` -> (T, metadata)."""
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        inner, more = _unwrap(base)
        return inner, more + list(meta)
    return annotation, []


def _bounds(metadata: list[Any]) -> list[str]:
    out = []
    for name, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):  # lower bounds first
        for item in metadata:
            value = getattr(item, name, None)
            if value is not None:
                out.append(f"{sign} {_number(value)}")
    return out


def _lengths(metadata: list[Any]) -> str:
    low = next((m.min_length for m in metadata if getattr(m, "min_length", None) is not None), None)
    high = next((m.max_length for m in metadata if getattr(m, "max_length", None) is not None), None)
    if low is not None and high is not None:
        return f"{low} to {high} items"
    if high is not None:
        return f"at most {high} items"
    if low is not None:
        return f"at least {low} item" + ("s" if low != 1 else "")
    return ""


def _number(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def _type(annotation: Any) -> tuple[str, list[str]]:
    """A readable type and the bounds found inside it (items of a list included)."""
    from pydantic import BaseModel

    annotation, meta = _unwrap(annotation)
    bounds = _bounds(meta)
    origin = get_origin(annotation)
    if origin is Literal:
        values = [f"`{v}`" for v in get_args(annotation)]
        return ("one of " + ", ".join(values) if len(values) > 1 else values[0]), bounds
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(annotation) if a is not type(None)]
        texts, inner = [], []
        for arm in arms:
            text, arm_bounds = _type(arm)
            texts.append(text)
            inner += arm_bounds
        text = " or ".join(texts) + (" or `null`" if len(arms) < len(get_args(annotation)) else "")
        return text, bounds + inner
    if origin in (list, tuple, set, frozenset):
        item = get_args(annotation)[0] if get_args(annotation) else Any
        text, item_bounds = _type(item)
        text = f"list of {text}" if text.isalpha() else f"list, each {text}"
        return text, bounds + [f"each {b}" for b in item_bounds]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        kind = _kind_of(annotation)
        if kind is not None:  # one kind of a section with kinds: its keys are in its own table
            return f"mapping with `kind: {kind}`", bounds
        keys = ", ".join(f"`{k}`" for k in annotation.model_fields)
        return f"mapping of {keys}", bounds
    names = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "`null`"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation))), bounds


def _kind_of(model: type) -> str | None:
    """The ``kind`` a section model stands for (a ``kind: Literal["name"]`` field), or None."""
    field = getattr(model, "model_fields", {}).get("kind")
    if field is None or get_origin(field.annotation) is not Literal or len(get_args(field.annotation)) != 1:
        return None
    return get_args(field.annotation)[0]


def _kinds(annotation: Any) -> list[type]:
    """The section models of a key that takes one of several kinds (``classifier.estimator``), in order."""
    annotation, _ = _unwrap(annotation)
    if get_origin(annotation) not in (Union, types.UnionType):
        return []
    models = [_unwrap(arm)[0] for arm in get_args(annotation)]
    return [m for m in models if _kind_of(m) is not None]


def _default(field) -> str:
    import yaml

    if field.default_factory is not None:
        value = field.default_factory()
    else:
        value = field.default
    if _kind_of(type(value)) is not None:  # a kind's section: its keys' defaults are in its own table
        return f"`kind: {value.kind}` (its defaults below)"
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    text = text.removesuffix("...").strip()
    return f"`{text}`"


def _markdown(text: str) -> str:
    """A docstring's reStructuredText markup as Markdown code spans: a role (:data:`x.Y`) and a double
    backquoted literal each become one single-backquoted span."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", str(text))
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped, ``<`` and ``>`` escaped outside code spans (``label<TAB>text``
    would otherwise be read as an HTML tag and vanish)."""
    parts = re.split(r"(`+[^`]*`+)", " ".join(_markdown(text).split()))
    text = "".join(p if p.startswith("`") else _link(p.replace("<", "&lt;").replace(">", "&gt;")) for p in parts)
    return text.replace("|", "\\|")


def _link(text: str) -> str:
    """Bare web addresses (a section's scikit-learn page) made links: ``<https://...>``."""
    return re.sub(r"(https?://[^\s)<>|]+)", r"<\1>", text)


def _key_rows(prefix: str, model: type) -> list[str]:
    """The table rows of a section model's keys, each named ``prefix.key``."""
    rows = []
    for key, sub in model.model_fields.items():
        kind, inner = _type(sub.annotation)
        _, field_meta = _unwrap(sub.annotation)
        bounds = _bounds(list(sub.metadata)) + inner
        lengths = _lengths(list(sub.metadata) + field_meta)
        if lengths:
            bounds.append(lengths)
        description = sub.description or ""
        rows.append(
            f"| `{prefix}.{key}` | {_cell(kind)} | {_cell(_default(sub))} | {_cell(', '.join(bounds))} "
            f"| {_cell(description)} |"
        )
    return rows


HEADER = ["| key | type | default | bounds | description |", "|---|---|---|---|---|"]


def config_reference() -> str:
    """Every section and key of the config: type, default, bounds and description, from the pydantic models;
    a key that takes one of several kinds of section gets one table per kind, after its section's."""
    from pydantic import BaseModel

    from fewlabel.config import Config

    out = []
    for section, field in Config.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(f"Config.{section} is not a section model")
        out += [f"### `{section}`", "", _cell(model.__doc__ or ""), "", *HEADER, *_key_rows(section, model), ""]
        for key, sub in model.model_fields.items():
            for kind in _kinds(sub.annotation):
                name = _kind_of(kind)
                out += [
                    f"#### `{section}.{key}` with `kind: {name}`",
                    "",
                    _cell(kind.__doc__ or ""),
                    "",
                    *HEADER,
                    *_key_rows(f"{section}.{key}", kind),
                    "",
                ]
    return "\n".join(out)


def config_defaults() -> str:
    """The whole default config as one YAML file (what ``fewlabel config`` prints)."""
    import yaml

    from fewlabel.config import Config

    text = yaml.safe_dump(Config().model_dump(mode="json"), sort_keys=False)  # as fewlabel config dumps it
    return "```yaml\n" + text + "```"


# ------------------------------------------------------------------------------------------ CLI reference

PARSER_FUNCTIONS = ("parser", "build_parser", "make_parser", "get_parser")


def find_parser() -> argparse.ArgumentParser:
    """``fewlabel.cli``'s parser: the first of PARSER_FUNCTIONS found in ``fewlabel.cli`` (a module or a package;
    in a package also in its ``parser`` / ``main`` submodule) that returns an ``ArgumentParser``."""
    cli = importlib.import_module("fewlabel.cli")
    places = [cli]
    for sub in ("parser", "parsers", "main"):
        try:
            places.append(importlib.import_module(f"fewlabel.cli.{sub}"))
        except ImportError:
            pass
    for place in places:
        for name in PARSER_FUNCTIONS:
            fn = getattr(place, name, None)
            if callable(fn) and not isinstance(fn, types.ModuleType):
                result = fn()
                if isinstance(result, argparse.ArgumentParser):
                    return result
    raise PluginError(f"docs/hooks.py: no function of fewlabel.cli returns its argparse parser ({PARSER_FUNCTIONS})")


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                out.append((name, helps.get(name, ""), sub))
    return out


def _argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            name = ", ".join(action.option_strings)
            if action.nargs != 0:
                metavar = action.metavar or action.dest.upper()
                name += f" {metavar}" if action.nargs in (None, 1) else f" {metavar} ..."
        else:
            name = action.metavar or action.dest
        default = ""
        if action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0:
            default = f"`{action.default}`"
        rows.append(f"| `{name}` | {_cell(action.help or '')} | {default} |")
    return rows


def _command_section(path: list[str], help_text: str, parser: argparse.ArgumentParser, out: list[str]) -> None:
    subs = _subcommands(parser)
    out += [f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`", ""]
    # its description (the command's docstring, as --help shows it), else its help line
    paragraphs = [p for p in re.split(r"\n\s*\n", parser.description or "") if p.strip()]
    if not paragraphs and help_text:
        paragraphs = [help_text[0].upper() + help_text[1:] + "."]
    for paragraph in paragraphs:
        out += [_cell(paragraph), ""]
    out += ["```text", parser.format_usage().strip(), "```", ""]
    rows = _argument_rows(parser)
    if rows:
        out += ["| argument | meaning | default |", "|---|---|---|", *rows, ""]
    for name, sub_help, sub in subs:
        _command_section([*path, name], sub_help, sub, out)


def cli_reference() -> str:
    """Every command of ``fewlabel`` with its usage line and arguments, from the argparse parser."""
    os.environ["COLUMNS"] = "100"  # argparse wraps usage lines at the terminal's width
    parser = find_parser()
    out: list[str] = []
    commands = sorted(_subcommands(parser), key=lambda c: c[0])
    out += ["| command | what it does |", "|---|---|"]
    out += [f"| [`fewlabel {name}`](#fewlabel-{name}) | {_cell(help_text)} |" for name, help_text, _ in commands]
    out.append("")
    for name, help_text, sub in commands:
        _command_section([parser.prog, name], help_text, sub, out)
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- module index

LAYERS = (
    ("fewlabel", "The core (and, in `fewlabel/orchestration/`, the Prefect machinery; `fewlabel.cli` on top)"),
    ("tasks", "Stage adapters, installed as `fewlabel.tasks`"),
    ("flows", "Flows, installed as `fewlabel.flows`"),
    ("deployments", "Deployments, installed as `fewlabel.deployments`"),
)


def _summary(path: Path) -> str:
    """The first paragraph of a module's docstring, read without importing it."""
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return " ".join(doc.split("\n\n")[0].split())


def module_index() -> str:
    """Every module of the four layers with the first paragraph of its docstring."""
    out = []
    for folder, title in LAYERS:
        out += [f"### `{folder}/`", "", title + ".", "", "| module | what it holds |", "|---|---|"]
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            summary = _summary(path)
            if not summary and path.name == "__init__.py":
                continue
            out.append(f"| `{name}` | {_cell(summary) or '(no docstring)'} |")
        out.append("")
    return "\n".join(out)


GENERATED = {
    "config-reference": config_reference,
    "config-defaults": config_defaults,
    "cli-reference": cli_reference,
    "module-index": module_index,
}
