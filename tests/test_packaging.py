"""Packaging and the house's layers: what installs where, the deployments' entrypoints, the import
contracts, and what wiring a flow loads."""

import configparser
import subprocess
import sys

import yaml

from .conftest import ROOT


def test_tasks_flows_and_deployments_install_under_fewlabel(tmp_path):
    code = (
        "import importlib.util as u, fewlabel.tasks.train, fewlabel.flows.train, fewlabel.deployments.serve;"
        "print([u.find_spec(n) is None for n in ('tasks', 'flows', 'deployments')])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[True, True, True]"  # no generic top-level packages in site-packages


def test_prefect_yaml_entrypoints_load_from_the_project_folder(monkeypatch):
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(ROOT)
    spec = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    names = set()
    for deployment in spec["deployments"]:
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        names.add(flow.name)
    assert names == {
        "fewlabel-train",
        "fewlabel-curve",
        "fewlabel-predict",
        "fewlabel-nightly",
        "fewlabel-suggest",
        "fewlabel-label",
    }


def test_prefect_yaml_is_generated_from_the_one_list_of_deployments():
    from fewlabel.deployments.spec import DEPLOYMENTS, prefect_yaml

    assert (ROOT / "deployments" / "prefect.yaml").read_text() == prefect_yaml(), (
        "regenerate it: python -m fewlabel.deployments.spec > deployments/prefect.yaml"
    )
    spec = yaml.safe_load(prefect_yaml())
    assert [d["entrypoint"] for d in spec["deployments"]] == [d.entrypoint for d in DEPLOYMENTS]


def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    return parser


def _core_modules() -> set[str]:
    return {f"fewlabel.{p.stem}" for p in (ROOT / "fewlabel").glob("*.py") if p.stem != "__init__"}


def test_every_module_is_in_a_layer_of_the_contracts():
    """Each module of the core (and each package of fewlabel) is a member of a layer, by exact name, and
    every core module is a source of the no-Prefect contract."""
    contracts = _contracts()
    layers = contracts["importlinter:contract:layers"]
    members = {
        f"fewlabel.{name.strip()}" for line in layers["layers"].split("\n") for name in line.split(":") if name.strip()
    }
    packages = {f"fewlabel.{p.parent.name}" for p in (ROOT / "fewlabel").glob("*/__init__.py")}
    assert _core_modules() | packages | {"fewlabel.tasks", "fewlabel.flows", "fewlabel.deployments"} == members
    assert layers["exhaustive"] == "true"
    no_prefect = set(contracts["importlinter:contract:core-without-prefect"]["source_modules"].split())
    assert _core_modules() == no_prefect, "list new core modules in both contracts of .importlinter"


def test_wiring_and_cache_keys_load_no_model_library():
    """A cached run, a worker and a deployment only wire flows and compute cache keys: they import no
    scikit-learn, skops, gensim or numba (seconds of start-up per process); a stage loads them when it runs."""
    script = """
import sys
import fewlabel.cli, fewlabel.flows.nightly, fewlabel.flows.curve, fewlabel.flows.simulate
from fewlabel.catalog import CATALOG
from fewlabel.orchestration.stage import code_version, project_imports
from fewlabel.corpora import source_files
for module in ("train", "evaluate", "pretrain", "predict", "curve", "simulate", "ingest", "vectorize"):
    code_version(f"fewlabel.tasks.{module}")
assert all(p.exists() for p in source_files("tiny"))
assert "fewlabel.modelio" in project_imports("fewlabel.tasks.train")  # imports in a task's body still count
assert "fewlabel.kernels" in project_imports("fewlabel.tasks.vectorize")  # and in a function of the core
heavy = {m for m in sys.modules if m.split(".")[0] in ("sklearn", "skops", "gensim", "numba") or m == "scipy.stats"}
print(sorted(heavy))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "[]"
