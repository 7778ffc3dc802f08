"""Models on disk: skops files (no pickle), canonical bytes, and a load that refuses unknown types.

:func:`load_model` accepts only the exact types fewlabel writes and refuses anything else, before
loading, with a clear error.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import skops.io as sio
from sklearn.ensemble import VotingClassifier
from sklearn.pipeline import Pipeline

from fewlabel import store
from fewlabel.classifiers import KINDS
from fewlabel.errors import UserError

TRUSTED = sorted({name for kind in KINDS.values() for name in kind.trusted})
"""The types skops loads only when told to: those of the classifier kinds."""
ALLOWED = {
    *(("builtins", c) for c in ("dict", "list", "str", "tuple", "int", "float", "bool", "NoneType")),
    *(("numpy", c) for c in ("ndarray", "float64", "float32", "int64", "int32", "bool_", "str_", "dtype")),
    ("numpy.random.mtrand", "RandomState"),
    ("sklearn.pipeline", "Pipeline"),
    ("sklearn.preprocessing._data", "StandardScaler"),
    ("sklearn.preprocessing._data", "Normalizer"),
    ("sklearn.ensemble._voting", "VotingClassifier"),
    ("sklearn.frozen._frozen", "FrozenEstimator"),
    ("sklearn.preprocessing._label", "LabelEncoder"),
    *(tuple(t.rsplit(".", 1)) for kind in KINDS.values() for t in kind.types),
}
"""Every (module, class) a fewlabel model file may contain (the pipeline around the estimator, and what
each classifier kind's estimator holds); anything else is refused unloaded."""


def dump_model(model: Pipeline) -> bytes:
    """skops bytes made canonical: memo ids renumbered, arrays named by content, fixed timestamps.

    skops names array files and memo entries after ``id()`` and stamps the current time; without
    this, retraining the same model would give new bytes and needlessly rerun everything downstream.
    """
    source = zipfile.ZipFile(io.BytesIO(sio.dumps(model)))
    entries = {info.filename: source.read(info) for info in source.infolist()}
    schema = json.loads(entries.pop("schema.json"))
    files = {name: f"{store.sha256_bytes(data)[:24]}{Path(name).suffix}" for name, data in entries.items()}
    ids: dict[int, int] = {}

    def canonical(node):
        if isinstance(node, list):
            return [canonical(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: canonical(value) for key, value in node.items()}
        if "__id__" in node:
            node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
        if isinstance(node.get("file"), str) and node["file"] in files:
            node["file"] = files[node["file"]]
        return node

    out_files = {"schema.json": json.dumps(canonical(schema)).encode()}
    out_files.update({files[name]: data for name, data in entries.items()})
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for name in sorted(out_files):
            out.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), out_files[name])
    return target.getvalue()


def types_in(data: bytes) -> set[tuple[str, str]]:
    """Every (module, class) named in a skops file's schema, read without loading anything."""
    found, stack = set(), [json.loads(zipfile.ZipFile(io.BytesIO(data)).read("schema.json"))]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add((node.get("__module__"), node["__class__"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def load_model(data: bytes, origin: str) -> Pipeline | VotingClassifier:
    """A model written by :func:`train`; a file naming any other type is refused before loading."""
    try:
        unexpected = types_in(data) - ALLOWED
        if unexpected:
            raise UserError(
                f"{origin} contains types fewlabel never writes "
                f"({', '.join(sorted(f'{m}.{c}' for m, c in unexpected))}): refusing to load it; retrain"
            )
        model = sio.loads(data, trusted=TRUSTED)
    except UserError:
        raise
    except Exception as exc:  # zipfile, json and skops raise many types for a damaged file
        raise UserError(f"{origin} is not a readable fewlabel model ({exc}); retrain it") from None
    if not isinstance(model, Pipeline | VotingClassifier):
        raise UserError(f"{origin} holds a {type(model).__name__}, not a fewlabel model: retrain it")
    return model
