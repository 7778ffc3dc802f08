"""The run configuration: one pydantic model, one section per stage.

It is the flows' parameter (the Prefect UI shows and validates it), it is loaded from YAML and
overridden with ``section.key=value`` strings, and each stage's cache key hashes its own section.
"""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from fewlabel.errors import UserError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(Section):
    """Where the text comes from and how the labeled set is split."""

    source: Literal["mr", "tiny", "files"] = Field(
        "mr", description="mr: Pang & Lee movie reviews; tiny: gensim's test data; files: your own"
    )
    unlabeled_path: str | None = Field(
        None, description="files: unlabeled corpus (CSV, Parquet or .txt, one text per line) or a folder of them"
    )
    labeled_path: str | None = Field(
        None, description="files: labeled set (CSV, Parquet, or .txt with 'label<TAB>text' lines)"
    )
    test_path: str | None = Field(
        None, description="files: optional fixed test set; when absent the labeled set is split"
    )
    text_column: str = "text"
    label_column: str = "label"
    encoding: str = Field("utf-8", description="encoding of your text files (e.g. latin-1)")
    labels_per_class: PositiveInt | None = Field(
        None, description="keep only N training labels per class (null = all) to simulate scarce labels"
    )
    test_size: float = Field(0.5, gt=0, lt=1, description="share of the labeled set held out for testing")
    seed: int = Field(0, ge=0)
    pool_unused_labels: bool = Field(
        True, description="training sentences left out by labels_per_class join the unlabeled text"
    )
    extra_unlabeled: list[Literal["wiki", "lee"]] = Field(
        [], description="built-in corpora added to the unlabeled text: wiki (gensim's Wikipedia sample), lee (news)"
    )


class PreprocessConfig(Section):
    """Tokenization and stopword removal."""

    language: str = Field("en", description="tokenizer: en, zh (jieba), or one you register")
    lowercase: bool = True
    stopwords: Literal["none", "english", "iso"] | list[str] = Field(
        "none",
        description="none, english (scikit-learn's list), iso (stopwords-iso for the language) or your own list",
    )
    keep_negations: bool = Field(True, description="never remove not/no/never/... (they carry sentiment)")
    min_token_length: PositiveInt = 1
    split_lines: bool = Field(
        True, description="unlabeled documents are split at line breaks into one sentence per line"
    )


    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        from fewlabel.text import LANGUAGES

        if value not in LANGUAGES:
            raise ValueError(f"unknown language {value!r}; known: {', '.join(sorted(LANGUAGES))}")
        return value


class Word2VecConfig(Section):
    """gensim Word2Vec parameters (https://radimrehurek.com/gensim/models/word2vec.html)."""

    vector_size: PositiveInt = Field(300, description="300 beat 100 on MR with sample=1e-4 and sif (bench/RESULTS.md)")
    window: PositiveInt = 5
    min_count: PositiveInt = 2
    sg: Literal[0, 1] = Field(1, description="1: skip-gram, 0: CBOW")
    negative: int = Field(5, ge=0)
    sample: float = Field(1e-4, ge=0, description="downsampling of frequent words; 1e-4 beat 1e-3 at 64 labels/class")
    alpha: float = Field(0.025, gt=0)
    epochs: PositiveInt = Field(20, description="20 beat 10 on MR at 16 and 64 labels/class (bench/RESULTS.md)")
    workers: PositiveInt = Field(1, description="1 is byte-reproducible; more is faster but varies")
    corpus_file_from: int = Field(
        500_000, ge=0,
        description="train from a LineSentence file (gensim's corpus_file mode: faster, flat memory) when the "
        "corpus has at least this many sentences; 0: always",
    )
    seed: int = Field(0, ge=0)


class VectorizeConfig(Section):
    """How word vectors become one sentence vector."""

    weighting: Literal["mean", "sif", "tfidf"] = Field(
        "sif", description="mean; sif: a/(a+p(w)); tfidf: log(1/p(w)); p(w) from the Word2Vec corpus counts"
    )
    sif_a: float = Field(1e-3, gt=0, description="the a of sif weighting")
    unit_vectors: bool = Field(False, description="scale every word vector to length 1 before averaging")
    remove_component: bool = Field(
        True, description="remove SIF's first principal component, estimated on unlabeled + training text"
    )
    pooling: Literal["mean", "mean_max", "mean_max_min"] = Field(
        "mean", description="concatenate the element-wise max (and min) of the word vectors to the mean"
    )


class ClassifierConfig(Section):
    """scikit-learn MLPClassifier parameters, after optional L2 normalization and standardization."""

    hidden_layer_sizes: tuple[PositiveInt, ...] = (32,)
    activation: Literal["identity", "logistic", "tanh", "relu"] = "logistic"
    solver: Literal["lbfgs", "sgd", "adam"] = "adam"
    alpha: float = Field(10.0, ge=0, description="L2 penalty; 10 won on MR with few labels (bench/RESULTS.md)")
    alpha_max_per_row: float | None = Field(
        0.3, gt=0, description="cap alpha at this many times the training rows of each fit: scikit-learn divides "
        "alpha by the rows, so alpha=10 on 4 rows shrinks every weight to zero (one class); on MR +0.018/+0.036/"
        "+0.009 at 2/4/8 labels per class, unchanged from 16 (bench/RESULTS-cv.md); null: no cap",
    )
    alpha_grid: tuple[Annotated[float, Field(ge=0)], ...] = Field(
        (), description="candidate alphas: each fit picks one by stratified k-fold cross-validation on its own "
        "training labels (ties: the largest), then refits on all of them; empty: alpha. Costs |grid| x k fits more "
        "and was no better than the cap on MR (bench/RESULTS-cv.md)",
    )
    cv_folds: int = Field(5, ge=2, description="k of that cross-validation, capped by the smallest class count")
    learning_rate_init: float = Field(1e-3, gt=0)
    max_iter: PositiveInt = 500
    early_stopping: bool = False
    l2_normalize: bool = Field(
        True, description="scale each sentence vector to length 1 (scikit-learn Normalizer) before standardization: "
        "on MR +0.018/+0.021/+0.010 at 2/4/8 labels per class (mean of two Word2Vec seeds), -0.001..+0.007 at "
        "16-64, the no-pretraining arm unchanged (bench/RESULTS-cv.md); false: the vectors as vectorize made them",
    )
    standardize: bool = True
    random_state: int = Field(0, ge=0)
    pseudo_documents: float = Field(
        0.2, ge=0, le=1, description="pretrained arm: share of the sampled unlabeled documents that the few labels' "
        "classifier is surest of (a document's score is the mean over its lines), pseudo-labeled with all their "
        "lines, each class taking its share of the labels (fewlabel/pseudo.py); 0: off. On MR's split 0 +0.048 at 2 "
        "labels per class, +0.010 at 16, +0.004 at 64; on split 1 +0.011, +0.007, +0.004 but -0.009/-0.010 at 4/8 "
        "(bench/RESULTS.md)",
    )
    pseudo_rounds: int = Field(2, ge=0, description="select and refit this many times, each with the last model")
    pseudo_min_lines: PositiveInt = Field(
        5, description="only documents of at least this many lines are pseudo-labeled: their mean is what makes "
        "the label reliable (single lines as documents lost up to 0.02 on MR)",
    )
    pseudo_weight: float = Field(
        16.0, ge=0, description="the pseudo-labeled classifier's probabilities count as this many labeled rows when "
        "averaged with the labels-only classifier's",
    )


class EvaluateConfig(Section):
    """Test-set statistics."""

    bootstrap: int = Field(1000, ge=0, description="paired bootstrap resamples for the intervals")
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = Field(0, ge=0)


class CurveConfig(Section):
    """The learning-curve sweep: labels per class and random label draws per point."""

    labels_per_class: list[PositiveInt | Literal["all"]] = [2, 4, 8, 16, 32, 64, "all"]
    draws: PositiveInt = 10
    seed: int = Field(0, ge=0)
    tfidf_C: float = Field(1.0, gt=0, description="inverse regularization of the TF-IDF + LR baseline")
    confidence: float = Field(0.95, gt=0, lt=1)


class Config(Section):
    """The whole run: one section per stage."""

    data: DataConfig = DataConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    word2vec: Word2VecConfig = Word2VecConfig()
    vectorize: VectorizeConfig = VectorizeConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    curve: CurveConfig = CurveConfig()

    @field_validator("*", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any) -> Any:
        return {} if value is None else value


def valid_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every settable dotted key, e.g. ``word2vec.epochs``."""
    keys = []
    for name, field in model.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            keys += valid_keys(sub, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"word2vec.epochs=5"`` -> (["word2vec", "epochs"], 5); the value is parsed as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {item!r}: expected section.key=value, e.g. --set word2vec.epochs=5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise UserError(f"--set {item!r}: the value is not valid YAML ({exc.problem})") from None
    return key.strip().split("."), value


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """Read the YAML file (if any), apply ``section.key=value`` overrides, validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise UserError(f"config file {path} not found: check the --config path") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise UserError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise UserError(f"config file {path}: expected a mapping of sections, e.g. 'word2vec: {{epochs: 5}}'")
    for item in overrides:
        keys, value = parse_override(item)
        node = raw
        for part in keys[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"--set {item!r}: {part!r} is not a section")
        node[keys[-1]] = value
    return validate(raw, source=str(path) if path else "--set")


BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _constraints(annotation: Any) -> list[Any]:
    """The annotated-types metadata inside ``Annotated[...]``, also within unions (``PositiveInt | None``)."""
    if get_origin(annotation) is Annotated:
        return list(get_args(annotation)[1:])
    if get_origin(annotation) in (Union, UnionType):
        return [c for arm in get_args(annotation) for c in _constraints(arm)]
    return []


def valid_range(loc: tuple[str | int, ...]) -> str | None:
    """The whole valid range of the setting at a pydantic error ``loc``, e.g. ``> 0 and < 1``."""
    model: Any = Config
    annotation, constraints = None, []
    for part in loc:
        if isinstance(part, int):  # an item of a list or tuple setting
            annotation, constraints = next(iter(get_args(annotation)), None), []
        elif model is not None and part in model.model_fields:
            field = model.model_fields[part]
            annotation, constraints = field.annotation, list(field.metadata)
            model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    bounds = [f"{sign} {getattr(c, name)}" for c in constraints + _constraints(annotation)
              for name, sign in BOUNDS.items() if getattr(c, name, None) is not None]
    return " and ".join(bounds) or None


def validate(raw: dict[str, Any], source: str = "config") -> Config:
    """Build a Config, turning pydantic's errors into one readable line per problem."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key {key!r}")
            elif err["type"] in RANGE_ERRORS and valid_range(err["loc"]):
                problems.append(f"{key}: must be {valid_range(err['loc'])} (got {err.get('input')!r})")
            else:
                problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
        raise UserError(
            f"{source}: " + "; ".join(problems) + ". Valid keys: " + ", ".join(valid_keys())
        ) from None
