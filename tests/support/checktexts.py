"""One text per check: a conformance test file points at its catalogue entry and says nothing of its own.

The catalogue (``flowlb/checks/catalogue.toml``) is where a check's title, what it guards and its fix are
written, and what the report, the README's table and ``flowlb lint`` show. A check file's module docstring is
:func:`pointer` and nothing more, and its test functions have none, so that no second description can drift
from the first; and every collected test belongs to exactly one entry, every entry to at least one test::

    docstring_problems(source, "redirect/redirect_to_https")       # [] when the file only points at its entry
    mapping_problems(["redirect/test_redirect_to_https.py::test_x"], catalogue.checks())
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from flowlb.checks.catalogue import Check

CATALOGUE = "flowlb/checks/catalogue.toml"


def pointer(check_id: str) -> str:
    """The whole module docstring of the file of check ``check_id``: where its text is, nothing of the text."""
    return f"Check `{check_id}`: its text is its entry in {CATALOGUE}."


def docstring_problems(source: str, check_id: str) -> list[str]:
    """Why the check file ``source`` (of ``check_id``) describes its check itself; ``[]`` when it does not."""
    tree = ast.parse(source)
    problems = []
    if ast.get_docstring(tree, clean=False) != pointer(check_id):
        problems.append(f"its module docstring is not only the pointer to its entry: write `\"\"\"{pointer(check_id)}"
                        f"\"\"\"` and put what it says in {CATALOGUE}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        tested = node.name.startswith("Test" if isinstance(node, ast.ClassDef) else "test")
        if tested and ast.get_docstring(node) is not None:
            problems.append(f"{node.name} (line {node.lineno}) has a docstring: its check's text is the catalogue's")
    return problems


def mapping_problems(node_ids: Iterable[str], checks: Iterable[Check]) -> list[str]:
    """Tests (pytest node ids under ``conformance/``) that belong to no catalogue entry or to several, and entries
    that no test belongs to; ``[]`` when each test has one entry and each entry a test."""
    entries = list(checks)
    tested: set[str] = set()
    problems = []
    for node_id in node_ids:
        path = node_id.split("::", 1)[0].removeprefix("conformance/")
        owners = [check.id for check in entries if check.file == path]
        if len(owners) != 1:
            problems.append(f"{node_id} belongs to {len(owners)} catalogue entries {owners}, not one")
        tested.update(owners)
    problems += [f"{check.id} ({check.file}) has no test" for check in entries if check.id not in tested]
    return problems
