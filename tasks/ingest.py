"""Stage 1, ingest: read the source, split the labeled set, simulate scarce labels.

Writes ``unlabeled.parquet`` (text, origin, row), ``train.parquet`` and ``test.parquet`` (text,
label, origin, row). Test sentences never reach the unlabeled (pretraining) text: unlabeled rows
identical to a test sentence are set aside and counted. With ``data.source=files`` the unlabeled
files are not read here but each by its own ``shard`` task (so adding one processes only it); the
unlabeled table then holds the built-in extra corpora and the pooled unused training sentences.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from sklearn.model_selection import train_test_split

from fewlabel import readers, store
from fewlabel.config import DataConfig
from fewlabel.errors import UserError
from fewlabel.stage import stage


def load(config: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """(unlabeled, labeled, fixed test set or None) for the configured source."""
    if config.source == "mr":
        return *readers.read_mr(), None
    if config.source == "tiny":
        return *readers.read_tiny(), None
    for key in ("unlabeled_path", "labeled_path"):
        if getattr(config, key) is None:
            raise UserError(f"data.source=files needs data.{key}: set it, e.g. --set data.{key}=my.csv")
    args = (config.text_column, config.label_column, config.encoding)
    unlabeled = pd.DataFrame({"text": pd.Series(dtype=str), "origin": pd.Series(dtype=str), "row": pd.Series(dtype=int)})
    labeled = readers.read_labeled(config.labeled_path, *args)
    test = None if config.test_path is None else readers.read_labeled(config.test_path, *args, what="data.test_path")
    return unlabeled, labeled, test


def with_extra(unlabeled: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    """The unlabeled text followed by the built-in corpora named in ``data.extra_unlabeled``."""
    if not extra:
        return unlabeled
    parts = [unlabeled[["text", "origin", "row"]]] + [readers.EXTRA_UNLABELED[name]() for name in dict.fromkeys(extra)]
    return pd.concat(parts, ignore_index=True)


def check_classes(labels: pd.Series, where: str, minimum: int = 2) -> None:
    counts = labels.value_counts()
    if len(counts) < 2:
        raise UserError(f"{where}: only one class ({counts.index[0]!r}); a classifier needs at least two")
    few = counts[counts < minimum]
    if len(few):
        listed = ", ".join(f"{label!r} ({n})" for label, n in few.items())
        raise UserError(f"{where}: classes with fewer than {minimum} examples: {listed}; add examples of them")


def split(labeled: pd.DataFrame, config: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded train/test split."""
    check_classes(labeled["label"], config.labeled_path or config.source)
    try:
        train, test = train_test_split(
            labeled, test_size=config.test_size, stratify=labeled["label"], random_state=config.seed
        )
    except ValueError as exc:
        raise UserError(
            f"data.test_size={config.test_size} cannot hold out every class of {len(labeled)} rows ({exc}); "
            "change data.test_size or add labeled rows"
        ) from None
    return train.sort_index(), test.sort_index()


def subsample(train: pd.DataFrame, n: int | None, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(N seeded examples per class, the rest). N larger than a class is an error naming the range."""
    if n is None:
        return train, train.iloc[:0]
    smallest = train["label"].value_counts().min()
    if n > smallest:
        raise UserError(
            f"data.labels_per_class={n} but the smallest class has {smallest} training examples; "
            f"choose 1..{smallest} or null for all"
        )
    kept = train.groupby("label", group_keys=False).sample(n=n, random_state=seed).sort_index()
    return kept, train.drop(kept.index)


def _fingerprint(config: DataConfig) -> dict[str, str]:
    """Content hashes of the input files; a problem with them is left for the stage to report."""
    try:
        files = readers.source_files(config.source, config.labeled_path, config.test_path)
        return {str(path): store.sha256_file(path) for path in files}
    except (UserError, OSError) as exc:
        return {"unreadable": str(exc)}


SCHEMA = pa.schema([("text", pa.string()), ("label", pa.string()), ("origin", pa.string()), ("row", pa.int64())])


def _table(frame: pd.DataFrame, columns: list[str]) -> pa.Table:
    """The frame's columns as plain Arrow types (no pandas metadata: readable by any Parquet reader)."""
    return pa.table({c: pa.array(frame[c].tolist(), SCHEMA.field(c).type) for c in columns})


@stage("ingest", fingerprint=lambda config: _fingerprint(config))
def ingest(out: Path, config: DataConfig) -> dict:
    """Read, validate and split the data; write the three tables."""
    unlabeled, labeled, test = load(config)
    unlabeled = with_extra(unlabeled, config.extra_unlabeled)
    if test is None:
        train, test = split(labeled, config)
    else:
        check_classes(labeled["label"], config.labeled_path)
        train = labeled
        unseen = set(test["label"]) - set(train["label"])
        if unseen:
            raise UserError(f"data.test_path has labels never seen in training: {sorted(unseen)}")
    check_classes(train["label"], "training split")
    train, unused = subsample(train, config.labels_per_class, config.seed)
    if config.pool_unused_labels and len(unused):
        unlabeled = pd.concat([unlabeled, unused[["text", "origin", "row"]]], ignore_index=True)
    test_texts = set(test["text"].str.strip())
    leaked = unlabeled["text"].str.strip().isin(test_texts)
    unlabeled = unlabeled[~leaked]
    store.write_table(out, "unlabeled.parquet", _table(unlabeled, ["text", "origin", "row"]))
    store.write_table(out, "train.parquet", _table(train, ["text", "label", "origin", "row"]))
    store.write_table(out, "test.parquet", _table(test, ["text", "label", "origin", "row"]))
    return {
        "unlabeled_rows": len(unlabeled),
        "unlabeled_equal_to_test_removed": int(leaked.sum()),
        "train_rows": len(train),
        "test_rows": len(test),
        "pooled_from_labeled": len(unused) if config.pool_unused_labels else 0,
        "train_per_class": {str(k): int(v) for k, v in train["label"].value_counts().sort_index().items()},
        "test_per_class": {str(k): int(v) for k, v in test["label"].value_counts().sort_index().items()},
    }
