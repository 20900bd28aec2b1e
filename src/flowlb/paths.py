"""Where flowlb finds its data: the package's own source, and the project checkout's folders.

The one place that knows the layout of the checkout (``fixtures/``, ``docker/``, ``loadtests/``,
``conformance/``). The checkout is ``$FLOWLB_HOME`` when set, else the folder above the package that
holds ``pyproject.toml`` (an editable install or a run from the repo), else the current directory::

    paths.fixtures() / "cluster.toml"
    paths.folder("docker") / "haproxy" / "Dockerfile"
    paths.package_parent()      # what a child process needs on PYTHONPATH to import flowlb
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

_PACKAGE = Path(__file__).resolve().parent
REPORTS = Path("reports")
"""Where runs' reports go unless told otherwise (``--report-dir``), relative to where flowlb runs."""


def package_parent() -> Path:
    """The folder that holds the ``flowlb`` package (``src/`` in the checkout)."""
    return _PACKAGE.parent


@cache
def project_root() -> Path:
    """The project checkout: ``$FLOWLB_HOME``, else the folder above the package with ``pyproject.toml``."""
    home = os.environ.get("FLOWLB_HOME")
    if home:
        return Path(home).resolve()
    for candidate in _PACKAGE.parents:
        if (candidate / "pyproject.toml").is_file() and (candidate / "fixtures").is_dir():
            return candidate
    return Path.cwd()


def folder(name: Literal["fixtures", "docker", "loadtests", "conformance"]) -> Path:
    """One of the checkout's folders."""
    return project_root() / name


def fixtures() -> Path:
    return folder("fixtures")


def default_spec() -> Path:
    return fixtures() / "cluster.toml"


def mutants() -> Path:
    return fixtures() / "mutants"

