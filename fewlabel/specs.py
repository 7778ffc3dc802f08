"""The specs of the mapped stages: what one point of the learning curve, or one seed of one strategy of
the labeling simulation, computes from its input artifacts.

A spec is frozen and typed, built from the config in one place (``of``), and passed by keyword to its
stage, whose cache key hashes it whole: it holds every setting the item uses and nothing else (not the
list of points or seeds, not the report's confidence), so adding an item runs only that item. It is
plain data, light to import: the flows build specs on every run, cached or not, without loading
scikit-learn (:mod:`fewlabel.learning_curve` and :mod:`fewlabel.simulation` compute them).
"""

from __future__ import annotations

from typing import Literal

from fewlabel.config import ClassifierConfig, Config, Word2VecConfig, one_of
from fewlabel.fields import Bool, Float, PositiveInt, Section, Seed
from fewlabel.selection import STRATEGIES


class CurvePoint(Section):
    """One point of the learning curve: every draw of every method at ``labels_per_class``, on the
    test split of ``data.seed`` = ``split``."""

    labels_per_class: PositiveInt | Literal["all"]
    classifier: ClassifierConfig
    word2vec: Word2VecConfig
    draws: PositiveInt
    seed: Seed
    tfidf_C: Float
    split: Seed
    spreading: Bool

    @classmethod
    def of(cls, labels_per_class: int | str, config: Config) -> CurvePoint:
        """The point of ``labels_per_class`` of the curve ``config`` describes (its test split: data.seed)."""
        curve = config.curve
        return cls(
            labels_per_class=labels_per_class,
            classifier=config.classifier,
            word2vec=config.word2vec,
            draws=curve.draws,
            seed=curve.seed,
            tfidf_C=curve.tfidf_C,
            split=config.data.seed,
            spreading=curve.label_spreading,
        )


class SimulationRun(Section):
    """One seed of one selection strategy in the labeling simulation: ``start`` labels per class drawn
    at random, then rounds of ``step`` per class chosen by ``strategy``, up to ``stop`` per class."""

    strategy: one_of(STRATEGIES)
    seed: Seed
    start: PositiveInt
    step: PositiveInt
    stop: PositiveInt
    classifier: ClassifierConfig

    @classmethod
    def of(cls, strategy: str, seed: int, config: Config) -> SimulationRun:
        """The run of ``strategy`` with ``seed``, with the rounds and classifier of ``config``."""
        selection = config.selection
        return cls(
            strategy=strategy,
            seed=seed,
            start=selection.start,
            step=selection.step,
            stop=selection.stop,
            classifier=config.classifier,
        )
