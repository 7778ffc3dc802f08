"""Stage vectorize: sentence vectors of the train and test sentences for both arms (:mod:`fewlabel.vectors`).

SIF's common component (``remove_component``) is estimated from each arm's own Word2Vec corpus: the
unlabeled sentences (with the shards) and training sentences for ``pretrained``, the training
sentences for ``no_pretraining``; never from the test split. Writes ``train.parquet`` and
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

from fewlabel import store
from fewlabel.config import VectorizeConfig
from fewlabel.corpus import corpus_parts, sampled_documents, sampled_tokens
from fewlabel.orchestration.stage import stage
from fewlabel.vectors import ARMS, counts_of, embedding, fit_component, sentence_vectors, vector_column, width

log = logging.getLogger(__name__)


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
    components = {}
    if config.remove_component:
        corpora = {
            "pretrained": sampled_tokens(corpus_parts(preprocess, shard)),
            "no_pretraining": store.read_table(preprocess, "train.parquet", ["tokens"])["tokens"],
        }
        components = {arm: fit_component(corpora[arm], *embeddings[arm], config) for arm in ARMS}
        vectors = vector_column(np.vstack(list(components.values())))
        store.write_table(out, "components.parquet", pa.table({"arm": list(components), "vector": vectors}))
    stats = {"config": config.model_dump(mode="json")}
    pool = sampled_documents(corpus_parts(preprocess, shard)[:-1])  # the unlabeled documents, not train
    vectors, _ = sentence_vectors(pool["tokens"], *embeddings["pretrained"], config, components.get("pretrained"))
    store.write_table(
        out, "unlabeled.parquet", pa.table({"document": pool["document"], "pretrained": vector_column(vectors)})
    )
    stats["unlabeled_sample"] = {"documents": len(pc.unique(pool["document"])), "lines": len(pool)}
    columns = ["label", "origin", "row", "tokens"]
    for split in ("train", "test"):
        schema, batches = store.iter_batches(preprocess, f"{split}.parquet", batch_size, columns, ("tokens",))
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
        with store.table_writer(out, f"{split}.parquet", out_schema) as write:
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
