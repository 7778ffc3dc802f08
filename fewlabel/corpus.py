"""The pretraining corpus as stored artifacts: its parts, streamed or sampled, never held whole.

A corpus is a list of (artifact, Parquet file) parts with a ``tokens`` column: the unlabeled text of
the ingest/preprocess artifact, one part per shard, and last the training sentences.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fewlabel import catalog, store
from fewlabel.vectors import COMPONENT_SAMPLE, STRINGS, sample_rows


class LineCorpus(NamedTuple):
    """What :func:`write_line_sentences` wrote, and the vocabulary gensim's scan of it would find."""

    sentences: int
    """Lines written, one per sentence (empty ones too)."""
    words: int
    """Tokens written."""
    long: int
    """Lines longer than ``longest`` tokens, which gensim's reader cuts into pieces."""
    pieces: int
    """The sentences gensim's LineSentence reader yields: each non-empty line cut into pieces of at most
    ``longest`` tokens (its ``corpus_count``, which paces the learning rate's decay)."""
    counts: dict[str, int]
    """Each token's number of occurrences, in order of first occurrence (as gensim's scan inserts them)."""


def write_line_sentences(
    parts: list[tuple[store.Ref, str]], path: Path, longest: int, batch: int = 65_536
) -> LineCorpus:
    """Stream the token columns of (artifact, file) parts into a LineSentence file, counting its
    vocabulary on the way with Arrow (one hash count per batch): gensim's own scan reads the file
    again, in Python, on one core (1.6 s of a 5 s training of 2M words on 2 workers here)."""
    sentences = words = long = pieces = 0
    counts: dict[str, int] = {}
    with open(path, "w", encoding="utf-8") as out:
        for ref, name in parts:
            for table in store.iter_batches(ref, name, batch, ["tokens"])[1]:
                tokens = table["tokens"].combine_chunks()
                lines = pc.binary_join(tokens, " ").to_pylist()
                out.write("\n".join(lines) + "\n")
                lengths = pc.list_value_length(tokens)
                sentences += len(lines)
                words += int(pc.sum(lengths).as_py() or 0)
                long += int(pc.sum(pc.greater(lengths, longest)).as_py() or 0)
                pieces += int(pc.sum(pc.divide(pc.add(lengths, longest - 1), longest)).as_py() or 0)
                found = pc.value_counts(pc.list_flatten(tokens))  # distinct tokens in order of appearance
                for token, n in zip(found.field(0).to_pylist(), found.field(1).to_pylist()):
                    counts[token] = counts.get(token, 0) + n
    return LineCorpus(sentences, words, long, pieces, counts)


def corpus_parts(preprocess: store.Ref, shards: list[store.Ref]) -> list[tuple[store.Ref, str]]:
    """The (artifact, file) parts of the pretraining corpus, in order: unlabeled text, shards, training text."""
    return [
        (preprocess, catalog.UNLABELED),
        *((s, catalog.UNLABELED) for s in shards),
        (preprocess, catalog.TRAIN),
    ]


def tokens_of(ref: store.Ref, name: str) -> list[list[str]]:
    return store.read_table(ref, name, ["tokens"]).column("tokens").to_pylist()


def sampled_tokens(parts: list[tuple[store.Ref, str]]) -> pa.ChunkedArray:
    """The token lists of the (artifact, file) parts, concatenated, or a seeded sample of them
    (:func:`sample_rows`), read one part at a time."""
    sizes = [store.parquet_rows(ref, name) for ref, name in parts]
    keep = sample_rows(sum(sizes))
    chunks, start = [], 0
    for (ref, name), size in zip(parts, sizes):
        tokens = store.read_table(ref, name, ["tokens"])["tokens"].combine_chunks().cast(STRINGS)
        if keep is not None:
            tokens = tokens.take(pa.array(keep[(keep >= start) & (keep < start + size)] - start))
        chunks.append(tokens)
        start += size
    return pa.chunked_array(chunks, STRINGS)


def sampled_documents(parts: list[tuple[store.Ref, str]], limit: int = COMPONENT_SAMPLE) -> pa.Table:
    """``document`` (int64) and ``tokens`` of whole unlabeled documents, at most ``limit`` lines in all.

    A document is a row of the user's unlabeled text (``origin`` + ``row``: its lines stay together);
    with more lines than ``limit``, a seeded random subset of the documents is taken whole, so each
    keeps every line for :mod:`fewlabel.pseudo` to average over.
    """
    keys = [store.read_table(ref, name, ["origin", "row"]) for ref, name in parts]
    frames = [t.append_column("part", pa.array(np.full(len(t), i), pa.int64())) for i, t in enumerate(keys)]
    everything = (
        pa.concat_tables(frames)
        if frames
        else pa.table(
            {"origin": pa.array([], pa.string()), "row": pa.array([], pa.int64()), "part": pa.array([], pa.int64())}
        )
    )
    grouped = everything.group_by(["part", "origin", "row"], use_threads=False).aggregate([([], "count_all")])
    order = np.random.default_rng(0).permutation(len(grouped))
    sizes = grouped["count_all"].to_numpy()[order]
    take = order[: max(1, int(np.searchsorted(np.cumsum(sizes), limit, side="right")))] if len(order) else order
    chosen = grouped.take(pa.array(np.sort(take), pa.int64())).append_column(
        "document", pa.array(np.arange(len(take)), pa.int64())
    )
    tables = []
    for i, ((ref, name), key) in enumerate(zip(parts, keys)):
        mine = chosen.filter(pc.equal(chosen["part"], i)).select(["origin", "row", "document"])
        if not len(mine):
            continue
        lines = key.append_column("line", pa.array(np.arange(len(key)), pa.int64()))
        joined = lines.join(mine, ["origin", "row"], join_type="inner", use_threads=False).sort_by("line")
        tokens = store.read_table(ref, name, ["tokens"])["tokens"].combine_chunks().cast(STRINGS)
        tables.append(pa.table({"document": joined["document"], "tokens": tokens.take(joined["line"])}))
    if not tables:
        return pa.table({"document": pa.array([], pa.int64()), "tokens": pa.array([], STRINGS)})
    return pa.concat_tables(tables)
