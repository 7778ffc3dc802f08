"""The label store: labels a person gave through ``fewlabel suggest`` CSVs or the Prefect UI.

``data/labels/labels-<UTC time>-<id>.parquet``, one file per batch of labels, append-only: a file is
written once (atomically) and never rewritten, and the user's own labeled file is never touched.
Columns: ``text``, ``label``, ``origin`` and ``row`` (where the sentence came from), ``when`` (UTC
timestamp) and ``how`` (``file:<path>`` for an imported CSV, ``ui:<flow run id>`` for the label flow).

Ingest (:func:`fewlabel.dataset.assemble`) adds the stored labels to the training split (never to the
test split, which stays a random sample of the user's labeled set). A sentence (compared with its
surrounding whitespace stripped) labeled differently twice is an error listing both labels and where
they came from, unless ``data.label_conflicts=newest``: then the store's latest label wins over older
ones and over the user's file (whose row is left out of training, and counted).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fewlabel import inputs, store
from fewlabel.errors import UserError

SCHEMA = pa.schema(
    [
        ("text", pa.string()),
        ("label", pa.string()),
        ("origin", pa.string()),
        ("row", pa.int64()),
        ("when", pa.timestamp("us", tz="UTC")),
        ("how", pa.string()),
    ]
)
SUGGESTION_COLUMNS = ["text", "origin", "row", "guess", "confidence", "label"]
"""The columns of a suggestions CSV; a person fills in ``label`` (blank: not labeled, skip: skipped)."""
SKIP = "skip"


def labels_dir() -> Path:
    return store.data_dir() / "labels"


def store_files() -> list[Path]:
    """The store's files in the order they were written (their names start with the UTC time)."""
    folder = labels_dir()
    return sorted(folder.glob("labels-*.parquet")) if folder.is_dir() else []


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def append(rows: pd.DataFrame, how: str, when: dt.datetime | None = None) -> Path | None:
    """Write one new store file with ``rows`` (text, label, origin, row); None if there is nothing.

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
    when = when or dt.datetime.now(dt.UTC)
    table = pa.table(
        {
            "text": rows["text"].astype(str).tolist(),
            "label": rows["label"].tolist(),
            "origin": rows["origin"].astype(str).tolist(),
            "row": [int(r) for r in rows["row"]],
            "when": [when] * len(rows),
            "how": [how] * len(rows),
        },
        schema=SCHEMA,
    )
    name = f"labels-{when.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}.parquet"
    path = labels_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def read_store() -> pd.DataFrame:
    """Every stored label, oldest first, with the file it is in (``file``)."""
    frames = []
    for path in store_files():
        try:
            table = pq.read_table(pa.BufferReader(inputs.read_bytes(path)))
        except (OSError, pa.ArrowInvalid) as exc:
            raise UserError(f"{path}: not a readable label store file ({exc}); move it out of {labels_dir()}") from None
        missing = [c for c in SCHEMA.names if c not in table.column_names]
        if missing:
            raise UserError(f"{path}: missing columns {missing}; move it out of {labels_dir()}")
        frame = table.select(SCHEMA.names).to_pandas()
        frame["file"] = path.name
        frames.append(frame)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*SCHEMA.names, "file"]})
    return pd.concat(frames, ignore_index=True)


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


def labeled_texts() -> set[str]:
    """Stripped texts already in the store (suggest never offers them again)."""
    return set(read_store()["text"].astype(str).str.strip())


def read_suggestions(path: str | Path) -> pd.DataFrame:
    """A filled-in suggestions CSV: its text, origin, row and label columns (label as text)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: cannot read it as a UTF-8 CSV ({' '.join(str(exc).split())})") from None
    missing = [c for c in ("text", "origin", "row", "label") if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing columns {missing}; give a suggestions CSV written by fewlabel suggest")
    rows = pd.to_numeric(frame["row"], errors="coerce")
    if rows.isna().any():
        bad = int(rows.isna().to_numpy().argmax()) + 2
        raise UserError(f"{path}: line {bad}, column row: not a whole number; restore it from the suggestions file")
    frame["row"] = rows.astype("int64")
    stripped = frame["label"].str.strip()
    frame["label"] = stripped.astype(object).where(stripped != "", None)
    return frame[["text", "origin", "row", "label"]]


def check_known(labels: pd.Series, classes: list[str], where: str) -> None:
    """Every given label is a known class (or skip): a typo is an error naming the line."""
    known = set(classes) | {SKIP}
    for i, label in enumerate(labels):
        if not pd.isna(label) and label not in known:
            raise UserError(
                f"{where}: line {i + 2}, column label: {label!r} is not a class; use one of "
                f"{', '.join(classes)} or {SKIP} (or leave it empty)"
            )
