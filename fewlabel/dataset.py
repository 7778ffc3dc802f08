"""The data set: read the source, split the labeled set, simulate scarce labels, keep test text out.

Test sentences never reach the unlabeled (pretraining) text: unlabeled lines identical to a test
sentence are removed (line by line, so a test sentence inside a multi-line review is caught) and
counted. With ``data.source=files`` the unlabeled files are read one by one (:func:`shard_table`, a
shard each), so adding one processes only it; the unlabeled table of :func:`assemble` then holds the
built-in extra corpora and the pooled unused training sentences.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fewlabel import corpora, encodings, inputs, labels, readers
from fewlabel.config import DataConfig, PreprocessConfig
from fewlabel.errors import UserError
from fewlabel.text import TOKENS, split_lines, tokenize


def load(config: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """(unlabeled, labeled, fixed test set or None) for the configured source."""
    if config.source in corpora.SOURCES:
        return *corpora.SOURCES[config.source].read(), None
    for key in ("unlabeled_path", "labeled_path"):
        if getattr(config, key) is None:
            raise UserError(f"data.source=files needs data.{key}: set it, e.g. --set data.{key}=my.csv")
    args = (config.text_column, config.label_column, config.encoding)
    unlabeled = pd.DataFrame(
        {"text": pd.Series(dtype=str), "origin": pd.Series(dtype=str), "row": pd.Series(dtype=int)}
    )
    labeled = readers.read_labeled(config.labeled_path, *args, damaged=config.damaged_text)
    labeled["label"] = readers.normalize_labels(labeled["label"], config.label_normalize, config.labeled_path)
    test = None
    if config.test_path is not None:
        test = readers.read_labeled(config.test_path, *args, what="data.test_path", damaged=config.damaged_text)
        test["label"] = readers.normalize_labels(test["label"], config.label_normalize, config.test_path)
    return unlabeled, labeled, test


def with_extra(unlabeled: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    """The unlabeled text followed by the built-in corpora named in ``data.extra_unlabeled``."""
    if not extra:
        return unlabeled
    parts = [unlabeled[["text", "origin", "row"]]] + [corpora.EXTRA_UNLABELED[name]() for name in dict.fromkeys(extra)]
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
    from sklearn.model_selection import train_test_split  # scikit-learn loads only where a split is made

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


def fingerprint(config: DataConfig) -> dict[str, str]:
    """Content hashes of the input files (:func:`fewlabel.inputs.file_hash`: inside the stage, read once and
    parsed from the bytes hashed); a problem with them is left for the stage to report."""
    try:
        files = corpora.source_files(config.source, config.labeled_path, config.test_path)
        # the data set's label store files too: a new label invalidates ingest (and what follows), nothing
        # before; and the unassigned ones, which ingest counts (labels of other data sets never count)
        dataset = labels.dataset_info(config)["id"]
        return inputs.hashes([*files, *labels.store_files(dataset), *labels.store_files(labels.UNASSIGNED)])
    except (UserError, OSError) as exc:
        return {"unreadable": str(exc)}


SCHEMA = pa.schema([("text", pa.string()), ("label", pa.string()), ("origin", pa.string()), ("row", pa.int64())])
"""The labeled tables' columns; the unlabeled ones have all but ``label``."""


def _table(frame: pd.DataFrame, columns: list[str]) -> pa.Table:
    """The frame's columns as plain Arrow types (no pandas metadata: readable by any Parquet reader)."""
    return pa.table({c: pa.array(frame[c].tolist(), SCHEMA.field(c).type) for c in columns})


LINE_BREAK = r"\r?\n"


def drop_test_lines(unlabeled: pd.DataFrame, test_texts: set[str]) -> tuple[pd.DataFrame, int, int]:
    """(the unlabeled texts without any line equal to a test sentence, lines removed, texts left empty and
    removed). Compared line by line, as preprocess will split them: a test sentence inside a multi-line
    review is caught, and the review keeps its other lines (its document for pseudo-labels)."""
    if not len(unlabeled):
        return unlabeled, 0, 0
    unlabeled = unlabeled.reset_index(drop=True)
    lines = unlabeled["text"].str.split(LINE_BREAK, regex=True)
    exploded = lines.explode()
    hit = exploded.str.strip().isin(test_texts) & (exploded.str.strip() != "")
    if not hit.any():
        return unlabeled, 0, 0
    touched = hit.groupby(level=0).any()
    kept = exploded[~hit].groupby(level=0).agg("\n".join).reindex(unlabeled.index, fill_value="")
    cleaned = unlabeled.copy()
    cleaned.loc[touched[touched].index, "text"] = kept[touched[touched].index]
    empty = touched & (cleaned["text"].str.strip() == "")
    return cleaned[~empty], int(hit.sum()), int(empty.sum())


def assemble(config: DataConfig) -> tuple[dict[str, pa.Table], dict]:
    """(the ``unlabeled``, ``train`` and ``test`` tables, their counts): read, validate and split."""
    unlabeled, labeled, test = load(config)
    # what data.damaged_text dropped from the labeled files (the readers count it; pandas keeps attrs
    # through the column assignments of load, not through the splits below)
    damaged = encodings.damage_summary(
        config.damaged_text, *(frame.attrs.get("damaged_text") for frame in (labeled, test) if frame is not None)
    )
    unlabeled = with_extra(unlabeled, config.extra_unlabeled)
    if test is None:
        train, test = split(labeled, config)
        if config.development:  # the test split is never read: the development split comes out of training
            train, test = split(train, config)
    else:
        if config.development:
            train, test = split(labeled, config)
            labeled = train
        check_classes(labeled["label"], config.labeled_path)
        train = labeled
        unseen = set(test["label"]) - set(train["label"])
        if unseen:
            raise UserError(f"data.test_path has labels never seen in training: {sorted(unseen)}")
    check_classes(train["label"], "training split")
    train, unused = subsample(train, config.labels_per_class, config.seed)
    user = labeled if config.test_path is None else pd.concat([labeled, test], ignore_index=True)
    dataset = labels.dataset_info(config)["id"]
    stored, unassigned = labels.for_dataset(dataset)  # this data set's labels only
    train, added = labels.merge(train, user, test, stored, config.label_conflicts, config.labeled_path or config.source)
    added = {"dataset": dataset, **added, "unassigned_ignored": unassigned}
    if config.pool_unused_labels and len(unused):
        unlabeled = pd.concat([unlabeled, unused[["text", "origin", "row"]]], ignore_index=True)
    unlabeled, leaked_lines, leaked = drop_test_lines(unlabeled, set(test["text"].str.strip()))
    tables = {
        "unlabeled": _table(unlabeled, ["text", "origin", "row"]),
        "train": _table(train, ["text", "label", "origin", "row"]),
        "test": _table(test, ["text", "label", "origin", "row"]),
    }
    return tables, {
        "unlabeled_rows": len(unlabeled),
        "unlabeled_equal_to_test_removed": leaked,
        "unlabeled_lines_equal_to_test_removed": leaked_lines,
        "train_rows": len(train),
        "test_rows": len(test),
        "development": config.development,
        "pooled_from_labeled": len(unused) if config.pool_unused_labels else 0,
        "label_store": added,
        "damaged_text": damaged,
        "train_per_class": {str(k): int(v) for k, v in train["label"].value_counts().sort_index().items()},
        "test_per_class": {str(k): int(v) for k, v in test["label"].value_counts().sort_index().items()},
    }


def check_inputs(config: DataConfig) -> None:
    """The configured input files exist and are regular files of a supported format: checked before a run
    starts, so a mistyped path (or a named pipe, which would block the read) fails in one line and starts
    nothing. Their content is checked by the stages that read them."""
    if config.source != corpora.FILES:
        return
    for key in ("labeled_path", "unlabeled_path", "test_path"):
        value = getattr(config, key)
        if value is not None:
            readers.input_files(value, f"data.{key}")
        elif key != "test_path":
            raise UserError(f"data.source=files needs data.{key}: set it, e.g. --set data.{key}=my.csv")


def shard_files(config: DataConfig) -> list[str]:
    """The shard files of the configured unlabeled corpus, in name order (none for built-in sources)."""
    if config.source != "files":
        return []
    if config.unlabeled_path is None:
        raise UserError("data.source=files needs data.unlabeled_path: set it, e.g. --set data.unlabeled_path=my.csv")
    return [str(path.resolve()) for path in readers.input_files(config.unlabeled_path, "data.unlabeled_path")]


def stripped_texts(table: pa.Table) -> pa.Array:
    """The distinct stripped texts of a table: the set no pretraining line may equal."""
    return pc.unique(pc.utf8_trim_whitespace(table["text"]))


def shard_table(
    path: str,
    test_texts: pa.Array,
    text_column: str,
    encoding: str,
    config: PreprocessConfig,
    damaged_text: str = "refuse",
) -> tuple[pa.Table, dict]:
    """One unlabeled file, its lines split, those equal to a test sentence dropped, tokenized:
    (text, origin, row, tokens) and its counts."""
    frame = readers.read_unlabeled(path, text_column, encoding, damaged=damaged_text)
    table = _table(frame, ["text", "origin", "row"])
    if config.split_lines:
        table = split_lines(table)
    leaked = pc.is_in(pc.utf8_trim_whitespace(table["text"]), value_set=test_texts)
    table = table.filter(pc.invert(leaked))
    column = tokenize(table["text"], config)
    lengths = pc.list_value_length(column).to_numpy()
    return table.append_column(TOKENS, column), {
        "file": Path(path).name,
        "rows": len(table),
        "tokens": int(lengths.sum()),
        "empty": int((lengths == 0).sum()),
        "blank_lines_skipped": int(frame.attrs.get("blank_lines", 0)),
        "unlabeled_equal_to_test_removed": int(pc.sum(leaked).as_py() or 0),
        "damaged_text": frame.attrs.get("damaged_text", encodings.damage_summary(damaged_text)),
    }
