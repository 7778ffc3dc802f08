"""Stage vectorize: sentence vectors of the train and test sentences for both arms (:mod:`fewlabel.vectors`).

What the vectors need fitted (SIF's common component with ``remove_component``; uSIF's components and
mean sentence length) is fitted on each arm's own Word2Vec corpus: the unlabeled sentences (with the
shards) and training sentences for ``pretrained``, the training sentences for ``no_pretraining``;
never on the test split. The fit streams the corpus dictionary-encoded, batch by batch; when the
sample is the whole corpus (at most 100k lines), the pretrained arm's fit reuses the unlabeled
lines' averages that ``unlabeled.parquet`` needs anyway (sif). Writes ``train.parquet`` and
``test.parquet`` (label, origin, row, one vector column per arm), ``components.parquet``, and
``unlabeled.parquet``: the pretrained vectors of whole unlabeled documents (at most 100k lines), for
document pseudo-labels.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fewlabel import catalog, store
from fewlabel.config import VectorizeConfig
from fewlabel.corpus import corpus_parts, sampled_documents
from fewlabel.orchestration.stage import stage
from fewlabel.vectors import (
    ARMS,
    WEIGHTINGS,
    common_table,
    counts_of,
    embedding,
    fit_common,
    needs_fit,
    remove_from_means,
    sample_rows,
    sentence_vectors,
    vector_column,
    width,
)

log = logging.getLogger(__name__)


def _tokens(parts: list[tuple[store.Ref, str]], batch_size: int):
    """The ``tokens`` column of (artifact, file) parts, batch by batch, dictionary-encoded."""
    for ref, name in parts:
        for table in store.iter_batches(ref, name, batch_size, ["tokens"], ("tokens",))[1]:
            yield table["tokens"]


@stage("vectorize")
def vectorize(
    out: Path,
    preprocess: store.Ref,
    shard: list[store.Ref],
    pretrain: store.Ref,
    config: VectorizeConfig,
    batch_size: int = 65_536,
) -> dict:
    """Sentence vectors of the train and test sentences, for both arms, as configured."""
    tables = {arm: store.read_table(pretrain, name) for arm, name in ARMS.items()}
    embeddings = {arm: (*embedding(t), counts_of(t)) for arm, t in tables.items()}
    parts = corpus_parts(preprocess, shard)
    pool = sampled_documents(parts[:-1])  # the unlabeled documents, not train
    pooled = None
    components = {}
    if needs_fit(config):
        sizes = [store.parquet_rows(ref, name) for ref, name in parts]
        corpora = {"pretrained": (parts, sum(sizes)), "no_pretraining": (parts[-1:], sizes[-1])}
        means = None
        if not WEIGHTINGS[config.weighting].fitted and sample_rows(sum(sizes)) is None and len(pool) == sum(sizes[:-1]):
            # every line is in the sample and the pool is every unlabeled line, in order: their averages
            # are the fit's first rows (the component is then removed from them, as if given)
            pooled, _ = sentence_vectors(pool["tokens"], *embeddings["pretrained"], config)
            means = pooled[:, : embeddings["pretrained"][1].shape[1]]
            corpora["pretrained"] = (parts[-1:], sum(sizes))
        for arm, (fitting, total) in corpora.items():
            given = means if arm == "pretrained" else None
            components[arm] = fit_common(_tokens(fitting, batch_size), total, *embeddings[arm], config, means=given)
        store.write_table(out, catalog.COMPONENTS, common_table(components))
        if pooled is not None:
            pooled = remove_from_means(pooled, components["pretrained"], embeddings["pretrained"][1].shape[1])
    stats = {"config": config.model_dump(mode="json")}
    if pooled is None:
        pooled, _ = sentence_vectors(pool["tokens"], *embeddings["pretrained"], config, components.get("pretrained"))
    store.write_table(
        out, catalog.UNLABELED, pa.table({"document": pool["document"], "pretrained": vector_column(pooled)})
    )
    stats["unlabeled_sample"] = {"documents": len(pc.unique(pool["document"])), "lines": len(pool)}
    columns = ["label", "origin", "row", "tokens"]
    for split in ("train", "test"):
        name = catalog.SPLITS[split]
        schema, batches = store.iter_batches(preprocess, name, batch_size, columns, ("tokens",))
        out_schema = pa.schema(
            [
                *schema.remove(schema.get_field_index("tokens")),
                *[
                    pa.field(arm, pa.list_(pa.float32(), width(m.shape[1], config)))
                    for arm, (_, m, _) in embeddings.items()
                ],
            ]
        )
        known_all = {arm: [] for arm in ARMS}
        total = 0
        with store.table_writer(out, name, out_schema) as write:
            for table in batches:
                tokens = table["tokens"]
                total += int(pc.sum(pc.list_value_length(tokens)).as_py() or 0)
                features = table.drop(["tokens"])
                for arm, (vocabulary, matrix, counts) in embeddings.items():
                    vectors, known = sentence_vectors(tokens, vocabulary, matrix, counts, config, components.get(arm))
                    features = features.append_column(arm, vector_column(vectors))
                    known_all[arm].append(known)
                write(features)
        for arm in ARMS:
            known = np.concatenate(known_all[arm]) if known_all[arm] else np.zeros(0, np.int64)
            stats[f"{split}_{arm}"] = {
                "rows": len(known),
                "zero_vectors": int((known == 0).sum()),
                "oov_share": round(1 - known.sum() / max(total, 1), 4),
            }
            if (known == 0).any():
                log.warning("%s/%s: %d sentences have no known word (zero vector)", split, arm, (known == 0).sum())
    return stats
