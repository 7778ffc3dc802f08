"""The lexical baseline: TF-IDF + logistic regression on a sentence's tokens, the words alone.

The run's report and the learning curve put it beside the pretrained model: where a task's signal sits
in words that averaged word vectors blur (function words such as "may" or "whether", rare terms), or
the unlabeled text is too small for Word2Vec, it does better, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def _identity(tokens):
    return tokens


def fit_tfidf_lr(sentences: Sequence[Sequence[str]], y, C: float) -> Pipeline:
    """TF-IDF (sublinear term frequency) + logistic regression with inverse regularization ``C``,
    fitted on tokenized ``sentences`` (the tokens preprocess made) and their labels ``y``; its
    ``predict`` takes tokenized sentences too."""
    model = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer=_identity, sublinear_tf=True)),
            ("lr", LogisticRegression(C=C, max_iter=2000)),
        ]
    )
    return model.fit(list(sentences), y)
