"""The averaged-word-vector step as a scikit-learn transformer, for your own Pipelines.

    from fewlabel.transformer import AveragedWordVectors
    pipe = make_pipeline(AveragedWordVectors("data/embeddings/pretrain-.../vectors.parquet"),
                         StandardScaler(), MLPClassifier())
    pipe.fit(texts, labels)

It tokenizes exactly like the preprocess stage and averages exactly like the vectorize stage.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from fewlabel.config import PreprocessConfig
from tasks.preprocess import tokenize
from tasks.vectorize import average, embedding


class AveragedWordVectors(TransformerMixin, BaseEstimator):
    """Map each text (a string, or a list of tokens) to the mean of its known words' vectors.

    Args:
        vectors: a fewlabel ``vectors.parquet`` path (columns token, vector) or gensim KeyedVectors.
        lowercase, stopwords, keep_negations, language: tokenization, as in the preprocess config.
    """

    def __init__(self, vectors=None, lowercase=True, stopwords="none", keep_negations=True, language="en"):
        self.vectors = vectors
        self.lowercase = lowercase
        self.stopwords = stopwords
        self.keep_negations = keep_negations
        self.language = language

    def fit(self, X=None, y=None):
        """Load the word vectors (X and y are not used: the vectors were learned beforehand)."""
        if self.vectors is None:
            raise ValueError("AveragedWordVectors needs vectors: a vectors.parquet path or gensim KeyedVectors")
        if hasattr(self.vectors, "index_to_key"):
            table = pa.table({
                "token": pa.array(self.vectors.index_to_key, pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(np.asarray(self.vectors.vectors, np.float32).ravel()), self.vectors.vector_size),
            })
        else:
            table = pq.read_table(self.vectors, columns=["token", "vector"])
        self.vocabulary_, self.embedding_ = embedding(table)
        self.preprocess_ = PreprocessConfig(
            lowercase=self.lowercase, stopwords=self.stopwords, keep_negations=self.keep_negations,
            language=self.language,
        )
        self.n_features_out_ = self.embedding_.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """An (n_texts, vector_size) float32 array; texts without a known word give zeros."""
        check_is_fitted(self, "embedding_")
        if isinstance(X, str):
            raise ValueError("X must be a sequence of texts, not a single string")
        items = list(X)
        if items and all(isinstance(x, (list, tuple)) for x in items):
            tokens = pa.array([list(map(str, x)) for x in items], pa.list_(pa.string()))
        else:
            tokens = tokenize(pa.array([str(x) for x in items], pa.string()), self.preprocess_)
        vectors, _ = average(tokens, self.vocabulary_, self.embedding_)
        return vectors

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "embedding_")
        return np.asarray([f"dim{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
