"""The run configuration: one pydantic model, one section per stage.

It is the flows' parameter (the Prefect UI shows and validates it), it is loaded from YAML and
overridden with ``section.key=value`` strings, and each stage's cache key hashes its own section.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from annotated_types import Ge
from pydantic import BaseModel, Field, Strict, ValidationError, field_validator, model_validator

from fewlabel import classifiers, corpora, encodings, readers, selection, text, vectors
from fewlabel.errors import UserError
from fewlabel.fields import Bool, Float, Int, PositiveInt, Section, Seed

MAX_MLP_WEIGHTS = 200_000_000


def one_of(registry: dict) -> Any:
    """The config type of a choice: one of the names of its registry (a ``Literal``, so the Prefect UI
    offers them as a list and the JSON schema holds them as an enum)."""
    return Literal[tuple(registry)]


NOT_FILE_ENCODINGS = {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}
"""Codecs Python lists as text encodings that are not how a text file is stored (domain names, Python
string literals, a codec that refuses everything)."""


def check_encoding(value: str | None) -> str | None:
    """A character encoding a text file can be stored in: known to Python, a text encoding (not rot13 or
    base64), one that stores plain text and reads it back (checked on a sample, not on an empty string,
    for which Python never looks the codec up), and not one of :data:`NOT_FILE_ENCODINGS`."""
    import codecs

    if value is None:
        return value
    hint = "e.g. utf-8, cp1252, utf-16"
    try:
        codec = codecs.lookup(value)
    except LookupError:
        raise ValueError(f"{_short(value)} is not a known text encoding ({hint})") from None
    sample = 'Text, 123 "quoted"\r\nnext\tline'
    try:
        stores_text = codec._is_text_encoding and sample.encode(codec.name).decode(codec.name) == sample
    except (UnicodeError, LookupError):
        stores_text = False
    if not stores_text or codec.name in NOT_FILE_ENCODINGS:
        raise ValueError(f"{_short(value)} is not an encoding text files are stored in ({hint})")
    return value


class EncodingMap(Section):
    """One encoding per input; an input not named here is read as UTF-8 (a BOM always wins)."""

    labeled: str | None = None
    unlabeled: str | None = None
    test: str | None = None

    @field_validator("*")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return check_encoding(value)


class DataConfig(Section):
    """Where the text comes from and how the labeled set is split."""

    source: one_of({**corpora.SOURCES, corpora.FILES: None}) = Field(
        "mr",
        description=f"{corpora.FILES}: your own files (data.labeled_path, data.unlabeled_path); or a built-in: "
        + "; ".join(f"{name}: {source.description}" for name, source in corpora.SOURCES.items()),
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
    encoding: str | EncodingMap = Field(
        "utf-8",
        description="encoding of your text files (e.g. cp1252), or one per input: {labeled: cp1252, "
        "unlabeled: utf-8, test: ...} (unnamed inputs: utf-8). A byte-order mark always wins; a wrong choice "
        "(mojibake, C1 control characters) is an error suggesting the right one",
    )
    damaged_text: one_of(encodings.DAMAGED_TEXT) = Field(
        "refuse",
        description="a file holding replacement characters U+FFFD (damaged before it reached you, by a wrong "
        "decode): "
        + "; ".join(f"{name}: {what}" for name, what in encodings.DAMAGED_TEXT.items())
        + ". What is dropped is counted in the run summary and report",
    )
    label_normalize: one_of(readers.LABEL_MODES) = Field(
        "none",
        description="how labels that differ only by surrounding spaces or case are merged: "
        + "; ".join(f"{name}: {mode.description}" for name, mode in readers.LABEL_MODES.items()),
    )
    labels_per_class: PositiveInt | None = Field(
        None, description="keep only N training labels per class (null = all) to simulate scarce labels"
    )
    test_size: Float = Field(0.5, gt=0, lt=1, description="share of the labeled set held out for testing")
    seed: Seed = 0
    development: Bool = Field(
        False,
        description="validation mode: the test split is set aside unread and a development split is carved "
        "from the training split (same test_size and seed): choose settings with it, report on the test split",
    )
    pool_unused_labels: Bool = Field(
        True, description="training sentences left out by labels_per_class join the unlabeled text"
    )
    label_conflicts: Literal["error", "newest"] = Field(
        "error",
        description="a sentence labeled differently in your file and data/labels/: error (list both), or "
        "newest (the label store's latest label wins over older ones and over your file)",
    )
    extra_unlabeled: list[Literal["wiki", "lee"]] = Field(
        [],
        max_length=2,
        description="built-in corpora added to the unlabeled text: wiki (gensim's Wikipedia sample), lee (news)",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | EncodingMap) -> str | EncodingMap:
        return check_encoding(value) if isinstance(value, str) else value


class PreprocessConfig(Section):
    """Tokenization and stopword removal."""

    language: one_of(text.LANGUAGES) = Field(
        "en",
        description="the tokenizer: " + ", ".join(f"{code} ({lang.name})" for code, lang in text.LANGUAGES.items()),
    )
    lowercase: Bool = True
    stopwords: Literal["none", "english", "iso"] | list[str] = Field(
        "none",
        description="none, english (scikit-learn's list), iso (stopwords-iso for the language) or your own list",
    )
    keep_negations: Bool = Field(True, description="never remove not/no/never/... (they carry sentiment)")
    min_token_length: PositiveInt = Field(1, le=1000)
    split_lines: Bool = Field(
        True, description="unlabeled documents are split at line breaks into one sentence per line"
    )


class Word2VecConfig(Section):
    """gensim Word2Vec parameters (https://radimrehurek.com/gensim/models/word2vec.html)."""

    vector_size: PositiveInt = Field(300, le=10_000, description="dimensions of the word vectors")
    window: PositiveInt = Field(5, le=1000)
    min_count: PositiveInt = 2
    sg: Int = Field(1, ge=0, le=1, description="1: skip-gram, 0: CBOW")
    negative: Int = Field(5, ge=0, le=1000)
    sample: Float = Field(1e-4, ge=0, description="downsampling of frequent words")
    alpha: Float = Field(0.025, gt=0)
    epochs: PositiveInt = Field(20, le=1000, description="passes over the pretraining corpus")
    workers: PositiveInt = Field(1, le=1024, description="1 is byte-reproducible; more is faster but varies")
    corpus_file_from: Int = Field(
        500_000,
        ge=0,
        description="train from a LineSentence file (gensim's corpus_file mode: faster, flat memory) when the "
        "corpus has at least this many sentences; 0: always",
    )
    seed: Seed = 0
    model: Literal["word2vec", "fasttext"] = Field(
        "word2vec",
        description="word2vec, or fasttext (gensim FastText: words also learn from their character 3-6-grams, "
        "for short, misspelled or morphologically rich text; 200,000 n-gram buckets)",
    )
    rare_words: Bool = Field(
        True,
        description="fasttext only: the vectors table also holds the pretraining text's words below min_count, their "
        "vectors built from their character n-grams (false: the vocabulary alone, as word2vec)",
    )
    ensemble: PositiveInt = Field(
        1,
        le=16,
        description="train this many models (seeds seed, seed+1, ...) and average their vectors, each rotated "
        "onto the first's (orthogonal Procrustes on the shared vocabulary): a seed ensemble in one vectors table",
    )
    update: Bool = Field(
        False,
        description="when the only change since the last pretraining is new shards, continue training that model on "
        "the new shards alone (gensim vocabulary update + train) instead of starting over; the artifact records "
        "what it was built from. --from-stage pretrain retrains in full",
    )

    @model_validator(mode="after")
    def _one_model_to_update(self) -> Word2VecConfig:
        if self.update and self.ensemble > 1:
            raise ValueError("word2vec.update continues one model: it cannot be used with word2vec.ensemble > 1")
        return self


class VectorizeConfig(Section):
    """How word vectors become one sentence vector."""

    weighting: one_of(vectors.WEIGHTINGS) = Field(
        "sif", description="how the words of a sentence are weighed; p(w) from the Word2Vec corpus counts"
    )
    sif_a: Float = Field(1e-3, gt=0, description="the a of sif weighting")
    unit_vectors: Bool = Field(False, description="scale every word vector to length 1 before averaging")
    remove_component: Bool = Field(
        True,
        description="remove SIF's first principal component (usif: its usif_components weighted ones), "
        "estimated on unlabeled + training text",
    )
    usif_components: Int = Field(
        5, ge=0, le=100, description="usif: principal components removed, each weighted by its share of their s^2"
    )
    pooling: one_of(vectors.POOLING) = Field(
        "mean",
        description="mean: the weighted average of the word vectors; mean_max (mean_max_min): the element-wise "
        "max (and min) of the word vectors concatenated to it",
    )


class ClassifierConfig(Section):
    """The classifier: the estimator fitted on the sentence vectors (``estimator``: one kind of
    :data:`fewlabel.classifiers.KINDS` with its own parameters) and fewlabel's rules for fitting it (the
    rest: vector scaling, the per-fit penalty rule, document pseudo-labels and their safeguard)."""

    estimator: classifiers.Estimator = Field(
        default_factory=classifiers.MLPParams,
        description="the estimator and its own parameters; kind: " + ", ".join(classifiers.KINDS),
    )
    alpha_max_per_row: Float | None = Field(
        0.3,
        gt=0,
        description="cap the estimator's L2 penalty (the MLP's alpha) at this many times the training rows of each "
        "fit: scikit-learn divides alpha by the rows, so alpha=10 on 4 rows would shrink every weight to zero (one "
        "class); null: no cap",
    )
    alpha_grid: tuple[Annotated[float, Strict(), Ge(0)], ...] = Field(
        (),
        max_length=100,
        description="candidate L2 penalties: each fit picks one by stratified k-fold cross-validation on its own "
        "training labels (ties: the largest), then refits on all of them; empty: the estimator's own. Costs "
        "|grid| x k fits more",
    )
    cv_folds: Int = Field(5, ge=2, le=100, description="k of that cross-validation, capped by the smallest class count")
    l2_normalize: Bool = Field(
        True,
        description="scale each sentence vector to length 1 (scikit-learn Normalizer) before standardization; "
        "false: the vectors as vectorize made them",
    )
    standardize: Bool = True
    pseudo_documents: Float = Field(
        0.2,
        ge=0,
        le=1,
        description="pretrained arm: share of the sampled unlabeled documents that the few labels' "
        "classifier is surest of (a document's score is the mean over its lines), pseudo-labeled with all their "
        "lines, each class taking its share of the labels; 0: off",
    )
    pseudo_rounds: Int = Field(
        2, ge=0, le=100, description="select and refit this many times, each with the last model"
    )
    pseudo_min_lines: PositiveInt = Field(
        5,
        le=1_000_000,
        description="only documents of at least this many lines are pseudo-labeled: their mean is what makes "
        "the label reliable",
    )
    pseudo_check_folds: Int = Field(
        3,
        ge=0,
        le=100,
        description="safeguard: keep the pseudo-labels only if, in this many stratified folds of the training "
        "labels (capped by the smallest class count), the pseudo-labeled model built without the held-out fold "
        "predicts it better (accuracy, then log-loss) than the labels-only model; otherwise use labels only. "
        "0: no check (always keep them)",
    )
    pseudo_weight: Float = Field(
        16.0,
        ge=0,
        description="the pseudo-labeled classifier's probabilities count as this many labeled rows when "
        "averaged with the labels-only classifier's",
    )
    pseudo_min_share: Float = Field(
        0.01,
        ge=0,
        le=1,
        description="skip pseudo-labels (no scoring, no pseudo-labeled fits, no safeguard) when the pseudo-labeled "
        "classifier would weigh less than this share of the vote, pseudo_weight / (pseudo_weight + labels): it "
        "could move no probability by more (0.01 with weight 16: above 1,584 labels); 0: never skip",
    )

    @model_validator(mode="before")
    @classmethod
    def _estimator_keys_moved(cls, value: Any) -> Any:
        """Configs and run records written before ``classifier.estimator`` existed set the MLP's own
        parameters in ``classifier`` itself (``classifier.alpha``): they mean ``classifier.estimator.alpha``."""
        if not isinstance(value, dict):
            return value
        moved = {k: value[k] for k in classifiers.MLPParams.model_fields if k != "kind" and k in value}
        if not moved:
            return value
        estimator = value.get("estimator") or {}
        if not isinstance(estimator, dict):
            return value  # the estimator section's own error says what is wrong
        both = sorted(set(moved) & set(estimator))
        if both:
            raise ValueError(
                f"{both[0]!r} is set twice: keep classifier.estimator.{both[0]}, drop classifier.{both[0]}"
            )
        kind = estimator.get("kind", classifiers.DEFAULT)
        if kind != "mlp":
            raise ValueError(
                f"classifier.{next(iter(moved))} is a parameter of the mlp estimator, not of {kind!r}: "
                f"set the {kind} estimator's own parameters under classifier.estimator"
            )
        return {**{k: v for k, v in value.items() if k not in moved}, "estimator": {**estimator, **moved}}


class EvaluateConfig(Section):
    """Test-set statistics."""

    bootstrap: Int = Field(1000, ge=0, le=1_000_000, description="paired bootstrap resamples for the intervals")
    confidence: Float = Field(0.95, gt=0, lt=1)
    seed: Seed = 0


class CurveConfig(Section):
    """The learning-curve sweep: labels per class and random label draws per point."""

    labels_per_class: list[PositiveInt | Literal["all"]] = Field(
        [2, 4, 8, 16, 32, 64, "all"], min_length=1, max_length=100
    )
    draws: PositiveInt = Field(10, le=10_000)
    splits: PositiveInt = Field(
        1,
        le=100,
        description="test splits (data.seed, data.seed + 1, ...), each with its own pretraining (cached); the "
        "summary is the mean over splits and draws, with the spread of the per-split means",
    )
    label_spreading: Bool = Field(
        False,
        description="also score scikit-learn LabelSpreading over the labeled and (at most 5,000) unlabeled "
        "pretrained sentence vectors",
    )
    seed: Seed = 0
    tfidf_C: Float = Field(
        1.0, gt=0, description="inverse regularization of the TF-IDF + LR baseline (in curves and in the run's report)"
    )
    confidence: Float = Field(0.95, gt=0, lt=1)


class PromotionConfig(Section):
    """The promotion gate after each nightly training run: the candidate model replaces the
    production one only if it is not worse on the same evaluation sentences."""

    margin: Float = Field(
        0.01, ge=0, le=1, description="largest accuracy drop (0.01: one point) a promoted candidate may show"
    )
    alpha: Float = Field(
        0.05, gt=0, lt=1, description="a candidate worse with McNemar's exact p below this is never promoted"
    )


class NightlyConfig(Section):
    """The nightly loop (``fewlabel-nightly``): train, gate, predict an inbox folder, then optionally
    suggest sentences to label (or pause for them in the UI)."""

    inbox_path: str | None = Field(
        None, description="folder (or file) of new texts predicted with the production model after the gate"
    )
    label: Literal["off", "suggest", "form"] = Field(
        "off",
        description="last step: off; suggest: the night's new model suggests selection.n sentences "
        "(selection.strategy) into data/labels/suggestions-<id>.csv (fewlabel-suggest subflow); form: a "
        "fewlabel-label subflow that suggests them and pauses with the labeling form in the UI (Resume) for up "
        "to label_timeout seconds; stored labels train the next night's model",
    )
    label_timeout: PositiveInt = Field(
        43_200,
        le=7 * 86_400,
        description="form: seconds the nightly run waits for the form (default 12 h, before the next night); "
        "unanswered, the run completes without labels and the suggestions CSV stays",
    )


class SelectionConfig(Section):
    """Choosing what to label next (``fewlabel suggest``, the label flow) and the simulation that
    measures each strategy against random draws (``fewlabel simulate``)."""

    strategy: one_of(selection.STRATEGIES) = Field(
        selection.DEFAULT,
        description="strategy of fewlabel suggest, the label flow and the nightly label step: "
        + "; ".join(f"{name}: {s.description}" for name, s in selection.STRATEGIES.items()),
    )
    n: PositiveInt = Field(20, le=10_000, description="sentences suggested at once")
    pool_max: PositiveInt = Field(100_000, le=10_000_000, description="unlabeled lines scored (seeded sample)")
    strategies: list[one_of(selection.STRATEGIES)] = Field(
        list(selection.STRATEGIES),
        min_length=1,
        description="simulate: the strategies compared (random is always included)",
    )
    start: PositiveInt = Field(2, le=10_000, description="simulate: random labels per class to start from")
    step: PositiveInt = Field(4, le=10_000, description="simulate: labels per class revealed per round")
    stop: PositiveInt = Field(64, le=100_000, description="simulate: labels per class at the last round")
    seeds: PositiveInt = Field(10, le=1_000, description="simulate: repetitions, each its own start")
    seed: Seed = 0
    confidence: Float = Field(0.95, gt=0, lt=1)


class Config(Section):
    """The whole run: one section per stage."""

    data: DataConfig = DataConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    word2vec: Word2VecConfig = Word2VecConfig()
    vectorize: VectorizeConfig = VectorizeConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    curve: CurveConfig = CurveConfig()
    promotion: PromotionConfig = PromotionConfig()
    nightly: NightlyConfig = NightlyConfig()
    selection: SelectionConfig = SelectionConfig()

    @field_validator("*", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _mlp_fits_in_memory(self) -> Config:
        layers = getattr(self.classifier.estimator, "hidden_layer_sizes", ())
        sizes = [vectors.width(self.word2vec.vector_size, self.vectorize), *layers]
        weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
        if weights > MAX_MLP_WEIGHTS:
            raise ValueError(
                f"classifier.estimator.hidden_layer_sizes: the MLP would have {weights:,} weights (at most "
                f"{MAX_MLP_WEIGHTS:,}); use smaller layers or a smaller word2vec.vector_size"
            )
        return self


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The section models an annotation holds: itself, or the arms of a union (the estimator's kinds)."""
    if get_origin(annotation) is Annotated:
        return _models_in(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return [m for arm in get_args(annotation) for m in _models_in(arm)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def valid_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every settable dotted key, e.g. ``word2vec.epochs`` (a union of sections: the keys of each, once)."""
    keys = []
    for name, field in model.model_fields.items():
        models = _models_in(field.annotation)
        if not models:
            keys.append(prefix + name)
        for sub in models:
            keys += [k for k in valid_keys(sub, f"{prefix}{name}.") if k not in keys]
    return keys


def _did_you_mean(key: str) -> str:
    """`` (did you mean 'data.labeled_path'?)`` for a key close to a valid one, else nothing."""
    close = difflib.get_close_matches(key, valid_keys(), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _keys_near(key: str) -> str:
    """The valid keys of the section an unknown key is in (every section's name if its first part is
    not a section): what the user can set there."""
    section = key.split(".")[0]
    inside = [k for k in valid_keys() if k.startswith(section + ".")]
    if inside and "." in key:
        return f". Valid keys of {section}: " + ", ".join(inside)
    return ". Valid keys: sections " + ", ".join(Config.model_fields) + " (`fewlabel config` shows them all)"


SHORT = 60


def _short(value: Any, limit: int = SHORT) -> str:
    """``repr(value)`` cut to ``limit`` characters plus an ellipsis: never echo a huge value back."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit] + "…")
    if isinstance(value, bytes) and len(value) > limit:
        return repr(value[:limit]) + "…"
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother = 3, limit, limit
    text = short.repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _cut(text: str, limit: int = SHORT) -> str:
    """Plain text cut to ``limit`` characters plus an ellipsis."""
    return text if len(text) <= limit else text[:limit] + "…"


MAX_DEPTH = 20
"""How deeply YAML values may nest (the config's deepest key is 4 levels down); deeper is refused
before PyYAML's recursive composer runs out of stack."""


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (``*name``: a 300-byte "billion laughs" value expands to
    gigabytes), without duplicate keys (the last one would silently win), nested at most
    :data:`MAX_DEPTH` deep, and with YAML 1.2 floats (``1e-4`` is a number, not a string)."""

    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"YAML aliases (*{_short(event.anchor, 20)}) are not allowed; write the value out",
                event.start_mark,
            )
        if self.depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"values nested more than {MAX_DEPTH} deep are not allowed", self.peek_event().start_mark
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {_short(key, 40)} appears twice; keep one", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


YamlLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: what and where (line and column, 1-based)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    return _one_line(where + what + (f" ({context})" if context else ""))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 (a safe loader, see YamlLoader)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"word2vec.epochs=5"`` -> (["word2vec", "epochs"], 5); the value is parsed as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {_short(item)}: expected section.key=value, e.g. --set word2vec.epochs=5")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise UserError(f"--set {_cut(key.strip())}: the value is not valid YAML ({_yaml_problem(exc)})") from None
    return key.strip().split("."), value


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """Read the YAML file (if any), apply ``section.key=value`` overrides, validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            raw = load_yaml(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise UserError(f"config file {path} not found: check the --config path") from None
        except IsADirectoryError:
            raise UserError(f"config file {path} is a folder: give the path of a YAML file") from None
        except UnicodeDecodeError as exc:
            raise UserError(f"config file {path}: byte {exc.start} is not valid UTF-8; save it as UTF-8") from None
        except yaml.YAMLError as exc:
            raise UserError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from None
        if not isinstance(raw, dict):
            raise UserError(f"config file {path}: expected a mapping of sections, e.g. 'word2vec: {{epochs: 5}}'")
    set_keys: dict[tuple[str, ...], str] = {}
    for item in overrides:
        keys, value = parse_override(item)
        node = raw
        for part in keys[:-1]:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise UserError(f"--set {_cut('.'.join(keys))}: {_short(part)} is not a section")
        node[keys[-1]] = value
        set_keys[tuple(keys)] = "--set " + _cut(".".join(keys))
    return validate(raw, source=str(path) if path else "config", set_keys=set_keys)


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
            models = _models_in(annotation)
            model = models[0] if len(models) == 1 else None
        elif part in classifiers.KINDS and model is None:  # the tag of the estimator's kind
            model = classifiers.KINDS[part].params
    bounds = [
        f"{sign} {getattr(c, name)}"
        for name, sign in BOUNDS.items()
        for c in constraints + _constraints(annotation)
        if getattr(c, name, None) is not None
    ]
    return " and ".join(bounds) or None


def _annotation_at(loc: tuple) -> Any:
    """The annotation of the setting (or list item) at a pydantic error's ``loc``."""
    annotation, models = None, [Config]
    for part in loc:
        if isinstance(part, int):
            annotation = next(iter(get_args(annotation)), None)
            continue
        owner = next((m for m in models if part in m.model_fields), None)
        if owner is not None:
            annotation = owner.model_fields[part].annotation
            models = _models_in(annotation)
        elif part in classifiers.KINDS:
            models = [classifiers.KINDS[part].params]
    return annotation


def _shown_loc(loc: tuple, unknown_key: bool = False) -> tuple:
    """An error's location as the user names the key: the config's fields and list indices, without the
    union arms pydantic puts in it ('str', 'constrained-int', 'EncodingMap', the estimator's kind); with
    ``unknown_key``, the last part is a key the user gave that no section has."""
    if unknown_key:
        return (*_shown_loc(loc[:-1]), loc[-1])
    shown, models = [], [Config]
    for part in loc:
        if isinstance(part, int):
            shown.append(part)
            continue
        owner = next((m for m in models if part in m.model_fields), None)
        if owner is not None:
            shown.append(part)
            models = _models_in(owner.model_fields[part].annotation)
        elif part in classifiers.KINDS:  # the tag that chose the estimator's kind
            models = [classifiers.KINDS[part].params]
        elif not models:  # inside a field's own type (an item's arm): nothing more to name
            break
    return tuple(shown)


def _source(loc: tuple, set_keys: dict[tuple[str, ...], str], default: str) -> str:
    """Where the value at ``loc`` came from: the --set that set it (or a section around it, or the one
    key set inside it), or the file."""
    parts = tuple(str(p) for p in loc)
    for n in range(len(parts), 0, -1):
        if parts[:n] in set_keys:
            return set_keys[parts[:n]]
    inside = [where for key, where in set_keys.items() if parts and key[: len(parts)] == parts]
    return inside[0] if len(inside) == 1 else default


def validate(raw: dict[str, Any], source: str = "config", set_keys: dict[tuple[str, ...], str] | None = None) -> Config:
    """Build a Config, turning pydantic's errors into one readable line, each problem with its source."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems, seen, unknown = [], set(), []
        for err in exc.errors():
            loc = _shown_loc(err["loc"], unknown_key=err["type"] == "extra_forbidden")
            key = ".".join(str(p) for p in loc)
            where = _source(loc, set_keys or {}, source)
            at = where if where == f"--set {_cut(key)}" else f"{where}: {key}" if key else where
            if err["type"] == "extra_forbidden":
                problem = f"{where}: unknown key {key!r}{_did_you_mean(key)}"
                unknown.append(key)
            elif err["type"] == "literal_error" and get_origin(_annotation_at(err["loc"])) is Literal:
                choices = ", ".join(str(c) for c in get_args(_annotation_at(err["loc"])))
                problem = f"{at}: unknown value {_short(err.get('input'))}; choose one of {choices}"
            elif err["type"] == "union_tag_invalid":
                tag, kind_key = err.get("ctx", {}).get("tag"), f"{key}.kind"
                at = where if where == f"--set {_cut(kind_key)}" else f"{where}: {kind_key}"
                problem = f"{at}: unknown kind {_short(tag)}; kinds: {', '.join(classifiers.KINDS)}"
            elif err["type"] in RANGE_ERRORS and valid_range(err["loc"]):
                problem = f"{at}: must be {valid_range(err['loc'])} (got {_short(err.get('input'))})"
            elif err["type"] in ("tuple_type", "list_type"):
                got = _short(err.get("input"))
                problem = f"{at}: expected a list (got {got}); write it in brackets: {key}=[{got}]"
            elif not key:  # a check across sections
                problem = f"{where}: {_one_line(err['msg']).removeprefix('Value error, ')}"
            else:
                msg = _one_line(err["msg"]).removeprefix("Value error, ")
                problem = f"{at}: {msg} (got {_short(err.get('input'))})"
            if problem not in seen:
                seen.add(problem)
                problems.append(problem)
        raise UserError("; ".join(problems) + (_keys_near(unknown[0]) if unknown else "")) from None
