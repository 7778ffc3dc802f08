"""The label store: labels a person gave through ``fewlabel suggest`` CSVs or the Prefect UI, per data set.

Labels belong to the data set they were given for: ``data/labels/<data set>/labels-<UTC time>-<id>.parquet``,
one file per batch, written once (atomically) and never rewritten; the user's own labeled file is never
touched. A data set (:func:`dataset_info`) is a built-in source (its name: ``mr``, ``tiny``, ...) or,
for ``data.source=files``, the resolved paths of its labeled and unlabeled inputs
(``files-<labeled file's name>-<hash of both paths>``); ``<data set>/dataset.json`` says which.
Columns: ``text``, ``label``, ``origin`` and ``row`` (where the sentence came from), ``when`` (UTC
timestamp), ``how`` (``file:<path>`` for an imported CSV, ``ui:<flow run id>`` for the label flow) and
``dataset`` (the data set it was given for; the folder it is in says which data set it applies to now:
:func:`move` moves or copies a data set's files to another, the only way labels change data set).

Ingest (:func:`fewlabel.dataset.assemble`) adds the run's own data set's labels to the training split
(never to the test split, which stays a random sample of the user's labeled set); no other data set's.
Files written before labels were kept per data set (``data/labels/labels-*.parquet``, no data set) are
*unassigned*: no run uses them; ingest counts them, and ``fewlabel labels`` lists them, with the command
that assigns them (``fewlabel labels move --from unassigned --to <data set>``). A sentence (compared with
its surrounding whitespace stripped) labeled differently twice is an error listing both labels and where
they came from, unless ``data.label_conflicts=newest``: then the store's latest label wins over older
ones and over the user's file (whose row is left out of training, and counted).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fewlabel import inputs, store
from fewlabel.errors import UserError

if TYPE_CHECKING:  # the config is above the label store
    from fewlabel.config import DataConfig

SCHEMA = pa.schema(
    [
        ("text", pa.string()),
        ("label", pa.string()),
        ("origin", pa.string()),
        ("row", pa.int64()),
        ("when", pa.timestamp("us", tz="UTC")),
        ("how", pa.string()),
        ("dataset", pa.string()),
    ]
)
OPTIONAL = ("dataset",)
"""Columns a store file may lack: files written before labels were kept per data set."""
SUGGESTION_COLUMNS = ["text", "origin", "row", "guess", "confidence", "label", "dataset"]
"""The columns of a suggestions CSV; a person fills in ``label`` (blank: not labeled, skip: skipped);
``dataset`` is the data set the suggestions were drawn from, where ``fewlabel labels add`` stores them."""
SKIP = "skip"
BUILT_IN = ("mr", "tiny", "nl-bol", "fr-amazon", "uncertainty")
"""The built-in sources: each is a data set, named by the source."""
UNASSIGNED = "unassigned"
"""Where ``fewlabel labels`` and :func:`move` name the labels stored without a data set."""
DATASET_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,80}")
DESCRIPTION = "dataset.json"
log = logging.getLogger(__name__)


def labels_dir() -> Path:
    return store.data_dir() / "labels"


def dataset_info(config: DataConfig) -> dict:
    """The data set a config reads: ``{"id", "source"}``, and for ``files`` the resolved labeled and
    unlabeled paths (their content may change; the data set stays the same)."""
    if config.source != "files":
        return {"id": config.source, "source": config.source}
    paths = {
        key: None if value is None else str(Path(value).expanduser().resolve())
        for key, value in (("labeled_path", config.labeled_path), ("unlabeled_path", config.unlabeled_path))
    }
    name = re.sub(r"[^a-z0-9]+", "-", Path(paths["labeled_path"] or "none").stem.lower()).strip("-")[:32] or "set"
    digest = store.canonical_hash({"source": "files", **paths})[:8]
    return {"id": f"files-{name}-{digest}", "source": "files", **paths}


def check_id(dataset: str, what: str = "data set") -> str:
    """A data-set id as given on the command line or in a CSV: a folder name of the store, nothing else."""
    if dataset != UNASSIGNED and not DATASET_ID.fullmatch(str(dataset)):
        shown = str(dataset)[:60]
        raise UserError(
            f"{what} {shown!r} is not a data-set id (lowercase letters, digits and -, e.g. tiny or "
            "files-reviews-1a2b3c4d); `fewlabel labels` lists them"
        )
    return dataset


def dataset_dir(dataset: str) -> Path:
    """The store's folder of a data set (the store's own folder for the unassigned labels)."""
    check_id(dataset)
    return labels_dir() if dataset == UNASSIGNED else labels_dir() / dataset


def describe(dataset: str) -> dict | None:
    """What a data-set id stands for (its ``dataset.json``), or None if the store has never seen it."""
    try:
        return json.loads((dataset_dir(dataset) / DESCRIPTION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def register(info: dict) -> None:
    """Write ``<data set>/dataset.json`` (what the id stands for) once."""
    path = dataset_dir(info["id"]) / DESCRIPTION
    if not path.exists():
        store.atomic_write(path, json.dumps(info, indent=2, sort_keys=True) + "\n")


def datasets() -> list[str]:
    """The ids of the data sets the store has a folder for, sorted."""
    folder = labels_dir()
    found = [p.name for p in folder.iterdir() if p.is_dir() and DATASET_ID.fullmatch(p.name)] if folder.is_dir() else []
    return sorted(found)


def store_files(dataset: str | None = None) -> list[Path]:
    """The files of one data set (``UNASSIGNED``: those stored without one), or of the whole store (None),
    in the order they were written (their names start with the UTC time)."""
    if dataset is None:
        folders = [labels_dir(), *(labels_dir() / d for d in datasets())]
    else:
        folders = [dataset_dir(dataset)]
    return sorted((f for folder in folders if folder.is_dir() for f in folder.glob("labels-*.parquet")), key=_name)


def _name(path: Path) -> tuple[str, str]:
    return path.name, str(path)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def append(rows: pd.DataFrame, how: str, dataset: dict, when: dt.datetime | None = None) -> Path | None:
    """Write one new store file with ``rows`` (text, label, origin, row) for ``dataset`` (a
    :func:`dataset_info`); None if there is nothing.

    Rows without a label, or labeled ``skip``, are not stored. A sentence given two different labels
    in the same batch is an error naming both.
    """
    rows = rows[rows["label"].notna()].copy()
    rows["label"] = rows["label"].astype(str)
    rows = rows[(rows["label"].str.strip() != "") & (rows["label"] != SKIP)]
    if rows.empty:
        return None
    key = rows["text"].astype(str).str.strip()
    for text, group in rows.groupby(key, sort=False):
        if group["label"].nunique() > 1:
            listed = " and ".join(f"{lab!r} (row {r})" for lab, r in zip(group["label"], group["row"]))
            raise UserError(f"{how}: sentence {_short(text)} is labeled {listed}; keep one label")
    if dataset["id"] == UNASSIGNED:
        raise UserError("labels are stored for a data set, not as unassigned")
    when = when or dt.datetime.now(dt.UTC)
    table = pa.table(
        {
            "text": rows["text"].astype(str).tolist(),
            "label": rows["label"].tolist(),
            "origin": rows["origin"].astype(str).tolist(),
            "row": [int(r) for r in rows["row"]],
            "when": [when] * len(rows),
            "how": [how] * len(rows),
            "dataset": [dataset["id"]] * len(rows),
        },
        schema=SCHEMA,
    )
    register(dataset)
    name = f"labels-{when.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}.parquet"
    path = dataset_dir(dataset["id"]) / name
    with store.atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


COLUMNS = [*SCHEMA.names, "applies_to", "file"]
"""The columns of :func:`read_store`: the stored ones (``dataset``: the data set a label was given for,
None before labels were kept per data set), ``applies_to`` (the data set whose runs use it: its folder;
None: unassigned) and ``file`` (its path under the store)."""


def read_store(dataset: str | None = None) -> pd.DataFrame:
    """The stored labels of one data set (``UNASSIGNED``: those without one), or of the whole store (None),
    oldest first; columns :data:`COLUMNS`."""
    frames = []
    for path in store_files(dataset):
        try:
            table = pq.read_table(pa.BufferReader(inputs.read_bytes(path)))
        except (OSError, pa.ArrowInvalid) as exc:
            raise UserError(f"{path}: not a readable label store file ({exc}); move it out of {labels_dir()}") from None
        missing = [c for c in SCHEMA.names if c not in table.column_names and c not in OPTIONAL]
        if missing:
            raise UserError(f"{path}: missing columns {missing}; move it out of {labels_dir()}")
        frame = table.select([c for c in SCHEMA.names if c in table.column_names]).to_pandas()
        for column in OPTIONAL:
            if column not in frame:
                frame[column] = None
        folder = path.parent.relative_to(labels_dir())
        frame["applies_to"] = None if str(folder) == "." else str(folder)
        frame["file"] = str(path.relative_to(labels_dir()))
        frames.append(frame[COLUMNS])
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return pd.concat(frames, ignore_index=True)


def for_dataset(dataset: str) -> tuple[pd.DataFrame, int]:
    """(the labels a run on ``dataset`` uses, how many stored labels have no data set and are not used:
    logged, with the command that assigns them)."""
    unassigned = len(read_store(UNASSIGNED))
    if unassigned:
        log.warning(
            "%d stored labels have no data set (stored before labels were kept per data set) and are not used; "
            "`fewlabel labels` lists them, `fewlabel labels move --from %s --to %s` gives them to this data set",
            unassigned,
            UNASSIGNED,
            dataset,
        )
    return read_store(dataset), unassigned


def move(source: str, target: dict, copy: bool = False) -> dict:
    """Move (or copy) every label file of data set ``source`` (``UNASSIGNED``: those without one) to the data
    set ``target`` (a :func:`dataset_info` or :func:`describe`). Files are moved whole by rename (a batch
    stays one file, never rewritten); a file already in the target is left alone. Returns the counts."""
    if source == target["id"]:
        raise UserError(f"--from and --to are the same data set ({source}); nothing to do")
    files = store_files(source)
    if not files:
        raise UserError(f"data set {source!r} has no labels in {labels_dir()}; `fewlabel labels` lists the data sets")
    register(target)
    folder = dataset_dir(target["id"])
    done, skipped, labels = [], [], 0
    for path in files:
        destination = folder / path.name
        if destination.exists():
            skipped.append(str(destination))
            continue
        labels += pq.ParquetFile(path).metadata.num_rows
        if copy:
            with store.atomic_path(destination) as tmp:
                shutil.copyfile(path, tmp)
        else:
            path.rename(destination)  # atomic: a run reads the file in one folder or the other
        done.append(str(destination))
    return {
        "from": source,
        "to": target["id"],
        "copied" if copy else "moved": done,
        "skipped": skipped,
        "labels": labels,
    }


def merge(
    train: pd.DataFrame, user: pd.DataFrame, test: pd.DataFrame, stored: pd.DataFrame, rule: str, where: str
) -> tuple[pd.DataFrame, dict]:
    """(training rows plus the stored labels, counts).

    ``user`` is the whole labeled set of the user's files (train and test rows), ``test`` the test
    split, ``where`` the labeled file's name.
    Stored labels equal to a user-file sentence with the same label add nothing; with a different
    label they are a conflict (``rule``: error, or newest: the store wins). A stored sentence in
    the test split never joins training.
    """
    counts = {"store_rows": len(stored), "added": 0, "same_as_file": 0, "replaced_file_rows": 0, "in_test": 0}
    if stored.empty:
        return train, counts
    stored = stored.assign(key=stored["text"].astype(str).str.strip())
    user_keys = user["text"].astype(str).str.strip()
    conflicts = []
    latest = {}
    for key, group in stored.groupby("key", sort=False):
        labels = group["label"].unique()
        if len(labels) > 1 and rule == "error":
            a, b = group.iloc[0], group[group["label"] != group.iloc[0]["label"]].iloc[0]
            conflicts.append(
                f"sentence {_short(key)} is {a['label']!r} in {labels_dir() / a['file']} ({a['how']}) and "
                f"{b['label']!r} in {labels_dir() / b['file']} ({b['how']})"
            )
        latest[key] = group.iloc[-1]
    mine = dict(zip(user_keys, zip(user["label"], user["row"])))
    for key, row in latest.items():
        if key in mine and mine[key][0] != row["label"] and rule == "error":
            conflicts.append(
                f"sentence {_short(key)} is {mine[key][0]!r} in {where} row {mine[key][1]} and {row['label']!r} "
                f"in {labels_dir() / row['file']} ({row['how']})"
            )
    if conflicts:
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        raise UserError(
            f"conflicting labels: {conflicts[0]}{more}; fix the label in your file or relabel it "
            "(fewlabel labels export shows every label), or set data.label_conflicts=newest to let the latest "
            "stored label win"
        )
    train_keys = train["text"].astype(str).str.strip()
    test_keys = set(test["text"].astype(str).str.strip())
    adds, replaced = [], set()
    for key, row in latest.items():
        if key in test_keys:
            counts["in_test"] += 1
        elif key in mine and mine[key][0] == row["label"]:
            counts["same_as_file"] += 1
        else:
            if key in mine:
                replaced.add(key)
            adds.append({"text": row["text"], "label": row["label"], "origin": row["origin"], "row": int(row["row"])})
    counts["added"] = len(adds)
    counts["replaced_file_rows"] = int(train_keys.isin(replaced).sum())
    kept = train[~train_keys.isin(replaced)]
    if adds:
        kept = pd.concat([kept, pd.DataFrame(adds)], ignore_index=True)
    return kept, counts


def labeled_texts(dataset: str) -> set[str]:
    """Stripped texts already labeled for ``dataset`` in the store (suggest never offers them again)."""
    return set(read_store(dataset)["text"].astype(str).str.strip())


def read_suggestions(path: str | Path) -> pd.DataFrame:
    """A filled-in suggestions CSV: its text, origin, row and label columns (label as text), and the data set
    it was drawn from (``attrs["dataset"]``: its ``dataset`` column; None in a CSV older than that column)."""
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file" if path.exists() else "not found"
        raise UserError(f"{path}: {what}; give the suggestions CSV written by fewlabel suggest")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: empty; give the suggestions CSV written by fewlabel suggest") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: cannot read it as a UTF-8 CSV ({' '.join(str(exc).split())})") from None
    missing = [c for c in ("text", "origin", "row", "label") if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing columns {missing}; give a suggestions CSV written by fewlabel suggest")
    whole = frame["row"].str.strip().str.fullmatch(r"[0-9]{1,15}")
    if not whole.all():
        bad = int((~whole).to_numpy().argmax())
        raise UserError(
            f"{path}: line {bad + 2}, column row: {frame['row'].iloc[bad][:30]!r} is not a row number (a whole "
            "number, as fewlabel suggest wrote it); restore it from the suggestions file"
        )
    frame["row"] = frame["row"].str.strip().astype("int64")
    stripped = frame["label"].str.strip()
    frame["label"] = stripped.astype(object).where(stripped != "", None)
    named = sorted(set(frame["dataset"].str.strip()) - {""}) if "dataset" in frame.columns else []
    if len(named) > 1:
        raise UserError(
            f"{path}: column dataset names {len(named)} data sets ({', '.join(repr(n[:40]) for n in named[:3])}); "
            "a suggestions CSV is drawn from one: split it, one file per data set"
        )
    out = frame[["text", "origin", "row", "label"]]
    out.attrs["dataset"] = check_id(named[0], f"{path}: column dataset:") if named else None
    return out


def check_known(labels: pd.Series, classes: list[str], where: str) -> None:
    """Every given label is a known class (or skip): a typo is an error naming the line."""
    known = set(classes) | {SKIP}
    for i, label in enumerate(labels):
        if not pd.isna(label) and label not in known:
            raise UserError(
                f"{where}: line {i + 2}, column label: {label!r} is not a class; use one of "
                f"{', '.join(classes)} or {SKIP} (or leave it empty)"
            )
