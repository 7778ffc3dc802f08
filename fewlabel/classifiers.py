"""Classifier kinds: the estimator fitted on the sentence vectors, one registry entry each.

An entry (:class:`Kind`) holds the kind's own parameters (a config section: ``classifier.estimator``
when its ``kind`` is the entry's name), how to build the scikit-learn estimator from them, the types
its fitted model holds (the allow-list :mod:`fewlabel.modelio` loads model files with), and which of
its parameters is the L2 penalty that fewlabel's alpha rule sets per fit (``None``: no such rule).
Nothing else in fewlabel names a kind: adding one is one entry in :data:`KINDS` (with its parameters'
model above it), and its parameters reach nothing but its own estimator.

scikit-learn is imported only when an estimator is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from annotated_types import Gt, Le
from pydantic import Discriminator, Field, Strict, Tag

from fewlabel.fields import Bool, Float, PositiveInt, Section, Seed

MAX_LAYERS, MAX_LAYER_SIZE = 10, 100_000


class MLPParams(Section):
    """scikit-learn's MLPClassifier (https://scikit-learn.org/stable/modules/generated/sklearn.neural_network.MLPClassifier.html)."""

    kind: Literal["mlp"] = "mlp"
    hidden_layer_sizes: tuple[Annotated[int, Strict(), Gt(0), Le(MAX_LAYER_SIZE)], ...] = Field(
        (32,),
        min_length=1,
        max_length=MAX_LAYERS,
        description=f"at most {MAX_LAYERS} layers of at most {MAX_LAYER_SIZE} units",
    )
    activation: Literal["identity", "logistic", "tanh", "relu"] = "logistic"
    solver: Literal["lbfgs", "sgd", "adam"] = "adam"
    alpha: Float = Field(10.0, ge=0, description="L2 penalty (capped per training row by classifier.alpha_max_per_row)")
    learning_rate_init: Float = Field(1e-3, gt=0)
    max_iter: PositiveInt = Field(500, le=100_000)
    tol: Float = Field(
        3e-4,
        ge=0,
        description="the MLP stops when its training loss has not improved by tol for n_iter_no_change epochs in "
        "a row (scikit-learn's defaults 1e-4 and 10 take twice the CPU for the same development-split curves: "
        "experiments/fit_speed.md)",
    )
    n_iter_no_change: PositiveInt = Field(5, le=100_000)
    early_stopping: Bool = False
    random_state: Seed = 0


class LogisticParams(Section):
    """scikit-learn's LogisticRegression (https://scikit-learn.org/stable/modules/generated/sklearn.linear_model.LogisticRegression.html)."""

    kind: Literal["logistic"] = "logistic"
    C: Float = Field(1.0, gt=0, description="inverse of the L2 penalty")
    max_iter: PositiveInt = Field(1000, le=100_000)
    random_state: Seed = 0


def _mlp(params: MLPParams):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(**params.model_dump(exclude={"kind"}))


def _logistic(params: LogisticParams):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=params.C, max_iter=params.max_iter, random_state=params.random_state)


@dataclass(frozen=True)
class Kind:
    """One classifier kind: its parameters, its estimator, what its model files may hold."""

    params: type[Section]
    build: Callable[[Any], Any]
    types: tuple[str, ...] = ()
    """``module.Class`` of every type its fitted estimator holds (beyond numpy arrays and builtins)."""
    trusted: tuple[str, ...] = ()
    """Those of :attr:`types` skops does not load unless told to (passed as ``trusted=``)."""
    penalty: str | None = None
    """The parameter fewlabel's alpha rule sets per fit (larger: more regularized)."""
    title: str = ""
    """How logs and reports name it ("MLP"); empty: the kind's own name."""


KINDS: dict[str, Kind] = {
    "mlp": Kind(
        MLPParams,
        _mlp,
        types=(
            "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
            "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
            "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
            "sklearn.preprocessing._label.LabelBinarizer",
            "sklearn.utils._bunch.Bunch",
        ),
        trusted=(
            "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
            "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
            "sklearn.utils._bunch.Bunch",
        ),
        penalty="alpha",
        title="MLP",
    ),
    "logistic": Kind(
        LogisticParams,
        _logistic,
        types=("sklearn.linear_model._logistic.LogisticRegression",),
        title="logistic regression",
    ),
}
DEFAULT = "mlp"


def title(kind: str) -> str:
    """How logs and reports name the classifier kind ``kind``."""
    return KINDS[kind].title or kind


def _kind_of(value: Any) -> str:
    """The kind a section is (an estimator's section without ``kind`` is the default kind's)."""
    if isinstance(value, dict):
        return value.get("kind", DEFAULT)
    return getattr(value, "kind", DEFAULT)


Estimator = Annotated[
    Union[tuple(Annotated[kind.params, Tag(name)] for name, kind in KINDS.items())],  # noqa: UP007
    Discriminator(_kind_of),
]
"""``classifier.estimator``: the parameters of one kind of :data:`KINDS`, chosen by its ``kind``."""


def build(params: Section):
    """The unfitted scikit-learn estimator of a ``classifier.estimator`` section."""
    return KINDS[params.kind].build(params)
