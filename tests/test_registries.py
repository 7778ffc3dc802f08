"""Every choice is listed once: the config accepts exactly its registry's names, and whatever else
offers the choice (the CLI's help, the flows' defaults, the model loader's allow-list) reads the same list."""

import pytest

from fewlabel import classifiers, corpora, encodings, readers, selection, text, vectors
from fewlabel.config import Config, SelectionConfig


def schema_choices(*path: str) -> set:
    """The values the config's JSON schema (what the Prefect UI shows and validates) allows at ``path``."""
    schema = Config.model_json_schema()
    node = schema
    for part in path:
        node = node["properties"][part]
        while "$ref" in node or "allOf" in node:
            ref = node["$ref"] if "$ref" in node else node["allOf"][0]["$ref"]
            node = schema["$defs"][ref.rsplit("/", 1)[-1]]
    if node.get("type") == "array":
        node = node["items"]
    return set(node["enum"])


@pytest.mark.parametrize(
    "path, registry",
    [
        (("selection", "strategy"), selection.STRATEGIES),
        (("selection", "strategies"), selection.STRATEGIES),
        (("data", "label_normalize"), readers.LABEL_MODES),
        (("preprocess", "language"), text.LANGUAGES),
        (("vectorize", "pooling"), vectors.POOLING),
        (("vectorize", "weighting"), vectors.WEIGHTINGS),
        (("data", "source"), {**corpora.SOURCES, corpora.FILES: None}),
        (("data", "damaged_text"), encodings.DAMAGED_TEXT),
    ],
)
def test_the_config_accepts_exactly_the_registry_s_names(path, registry):
    assert schema_choices(*path) == set(registry)
    default = Config().model_dump()[path[0]][path[1]]
    assert set(default if isinstance(default, list) else [default]) <= set(registry)


def test_the_estimator_kinds_are_the_registry_s_and_their_files_load_with_its_allow_list():
    from fewlabel.modelio import ALLOWED, TRUSTED

    schema = Config.model_json_schema()
    estimator = schema["$defs"]["ClassifierConfig"]["properties"]["estimator"]
    arms = {
        schema["$defs"][ref["$ref"].rsplit("/", 1)[-1]]["properties"]["kind"]["const"] for ref in estimator["oneOf"]
    }
    assert arms == set(classifiers.KINDS)
    for kind in classifiers.KINDS.values():
        assert {tuple(t.rsplit(".", 1)) for t in kind.types} <= ALLOWED and set(kind.trusted) <= set(TRUSTED)


def test_the_flows_and_the_cli_take_their_selection_defaults_from_the_config():
    import inspect

    from fewlabel.cli import parser
    from fewlabel.flows.label import label_flow
    from fewlabel.flows.suggest import suggest_flow

    defaults = SelectionConfig()
    for flow in (suggest_flow, label_flow):
        params = inspect.signature(flow.fn).parameters
        assert params["strategy"].default == defaults.strategy and params["n"].default == defaults.n
    suggest = parser()._subparsers._group_actions[0].choices["suggest"]
    strategy_help = next(a.help for a in suggest._actions if "--strategy" in a.option_strings)
    assert all(name in strategy_help for name in selection.STRATEGIES)


def test_predict_offers_the_damaged_text_choices_of_the_config():
    import typing

    from fewlabel.cli import parser
    from fewlabel.flows.predict import predict_flow

    assert set(typing.get_args(typing.get_type_hints(predict_flow.fn)["damaged_text"])) == set(encodings.DAMAGED_TEXT)
    predict = parser()._subparsers._group_actions[0].choices["predict"]
    choices = next(a.choices for a in predict._actions if "--damaged-text" in a.option_strings)
    assert list(choices) == list(encodings.DAMAGED_TEXT)
