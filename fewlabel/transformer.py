"""The averaged-word-vector step as a scikit-learn transformer, for your own Pipelines.

    from fewlabel.transformer import AveragedWordVectors
    pipe = make_pipeline(AveragedWordVectors("data/embeddings/pretrain-.../vectors.parquet"),
                         StandardScaler(), MLPClassifier())
    pipe.fit(texts, labels)

It tokenizes exactly like the preprocess stage and averages exactly like the vectorize stage (same
weighting, common-component removal and pooling options; uSIF's fit included).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from fewlabel.config import PreprocessConfig, VectorizeConfig
from fewlabel.text import tokenize
from fewlabel.vectors import POOLING, WEIGHTINGS, counts_of, embedding, fit_component, needs_fit, sentence_vectors


class AveragedWordVectors(TransformerMixin, BaseEstimator):
    """Map each text (a string, or a list of tokens) to the (weighted) mean of its known words' vectors.

    Args:
        vectors: a fewlabel ``vectors.parquet`` path (columns token, count, vector) or gensim KeyedVectors.
        lowercase, stopwords, keep_negations, language: tokenization, as in the preprocess config.
        weighting, sif_a, unit_vectors, remove_component, usif_components, pooling: as in the vectorize
            config. sif, usif and tfidf need word counts (the ``count`` column, or the KeyedVectors'
            ``count`` attribute); the common component (usif: the components and the mean sentence
            length its weights use) is estimated in ``fit`` on the texts given to it (never pass test
            texts).
    """

    def __init__(
        self,
        vectors=None,
        lowercase=True,
        stopwords="none",
        keep_negations=True,
        language="en",
        weighting="mean",
        sif_a=1e-3,
        unit_vectors=False,
        remove_component=False,
        pooling="mean",
        usif_components=5,
    ):
        self.vectors = vectors
        self.lowercase = lowercase
        self.stopwords = stopwords
        self.keep_negations = keep_negations
        self.language = language
        self.weighting = weighting
        self.sif_a = sif_a
        self.unit_vectors = unit_vectors
        self.remove_component = remove_component
        self.pooling = pooling
        self.usif_components = usif_components

    def fit(self, X=None, y=None):
        """Load the word vectors; with ``remove_component`` (or usif weighting), fit the common component
        (uSIF's fit) on X (y unused)."""
        if self.vectors is None:
            raise ValueError("AveragedWordVectors needs vectors: a vectors.parquet path or gensim KeyedVectors")
        if hasattr(self.vectors, "index_to_key"):
            keys = self.vectors.index_to_key
            counted = "count" in getattr(self.vectors, "expandos", {})
            table = pa.table(
                {
                    "token": pa.array(keys, pa.string()),
                    "count": pa.array(
                        [int(self.vectors.get_vecattr(k, "count")) if counted else 0 for k in keys], pa.int64()
                    ),
                    "vector": pa.FixedSizeListArray.from_arrays(
                        pa.array(np.asarray(self.vectors.vectors, np.float32).ravel()), self.vectors.vector_size
                    ),
                }
            )
        else:
            table = pq.read_table(self.vectors)
        self.vocabulary_, self.embedding_ = embedding(table)
        self.counts_ = counts_of(table)
        self.vectorize_ = VectorizeConfig(
            weighting=self.weighting,
            sif_a=self.sif_a,
            unit_vectors=self.unit_vectors,
            remove_component=self.remove_component,
            usif_components=self.usif_components,
            pooling=self.pooling,
        )
        if WEIGHTINGS[self.weighting].weigh is not None and (self.counts_ is None or not self.counts_.any()):
            raise ValueError(f"weighting={self.weighting!r} needs word counts, and these vectors have none")
        self.preprocess_ = PreprocessConfig(
            lowercase=self.lowercase,
            stopwords=self.stopwords,
            keep_negations=self.keep_negations,
            language=self.language,
        )
        dim = self.embedding_.shape[1]
        self.n_features_out_ = dim * (1 + len(POOLING[self.pooling]))
        self.component_ = None
        if needs_fit(self.vectorize_):
            if X is None:
                why = "remove_component=True" if self.remove_component else "weighting='usif'"
                raise ValueError(f"{why} estimates the common component on the texts passed to fit")
            self.component_ = fit_component(
                self._tokens(X), self.vocabulary_, self.embedding_, self.counts_, self.vectorize_
            )
        return self

    def transform(self, X) -> np.ndarray:
        """An (n_texts, n_features_out_) float32 array; texts without a known word give zeros."""
        check_is_fitted(self, "embedding_")
        vectors, _ = sentence_vectors(
            self._tokens(X), self.vocabulary_, self.embedding_, self.counts_, self.vectorize_, self.component_
        )
        return vectors

    def _tokens(self, X) -> pa.ListArray:
        """X's texts tokenized as the preprocess stage does (lists of tokens are taken as they are)."""
        if isinstance(X, str):
            raise ValueError("X must be a sequence of texts, not a single string")
        items = list(X)
        missing = next((i for i, x in enumerate(items) if x is None or (isinstance(x, float) and x != x)), None)
        if missing is not None:
            raise ValueError(f"X[{missing}] is {items[missing]!r}, not a text: drop or fill in the missing texts")
        if items and all(isinstance(x, (list, tuple, np.ndarray)) for x in items):
            tokens = pa.array([list(map(str, x)) for x in items], pa.list_(pa.string()))
        else:
            tokens = tokenize(pa.array([str(x) for x in items], pa.string()), self.preprocess_)
        return tokens

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "embedding_")
        return np.asarray([f"dim{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
