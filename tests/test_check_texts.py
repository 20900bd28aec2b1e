"""One text per check: the catalogue describes each check, its test file only points there, and every collected
conformance test belongs to exactly one catalogue entry, every entry to at least one test.

Fails when a check file grows its own description again (a module docstring other than the pointer to its
entry, or a docstring on a test function), when a test is collected that no entry (or more than one) owns, or
when an entry's file holds no test; and the rules themselves are shown to fail on such files and runs.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from flowlb import paths
from flowlb.checks import catalogue
from tests.support.checktexts import docstring_problems, mapping_problems, pointer
from tests.support.suite import run_conformance

REDIRECT = catalogue.by_id("redirect/redirect_to_https")
TEST = "def test_port_80_redirects() -> None:\n    assert True\n"


def test_every_check_file_only_points_at_its_entry() -> None:
    problems = {check.id: docstring_problems((paths.folder("conformance") / check.file).read_text(), check.id)
                for check in catalogue.checks()}
    assert not {check: found for check, found in problems.items() if found}


def test_every_collected_test_belongs_to_one_entry_and_every_entry_has_one() -> None:
    run = run_conformance("--collect-only", timeout=60)
    node_ids = [line for line in run.stdout.splitlines() if line.startswith("conformance/") and "::" in line]
    assert run.returncode == 0 and node_ids, run.stdout[-2000:] + run.stderr[-2000:]
    assert not mapping_problems(node_ids, catalogue.checks())


@pytest.mark.parametrize("source", [
    f'"""{pointer("redirect/redirect_to_https")}"""\n\n{TEST}',
    f'"""{pointer("redirect/redirect_to_https")}"""\n\nimport pytest\n\n\ndef _helper() -> None:\n'
    f'    """Helpers may say what they are for."""\n\n\n{TEST}',
])
def test_a_file_that_only_points_passes(source: str) -> None:
    assert docstring_problems(source, "redirect/redirect_to_https") == []


@pytest.mark.parametrize(("source", "said"), [
    (TEST, "not only the pointer"),  # no docstring at all
    (f'"""Redirect (80): plain HTTP is sent to https."""\n\n{TEST}', "not only the pointer"),  # the title again
    (f'"""{pointer("redirect/redirect_to_https")}\n\nFails when port 80 serves content."""\n\n{TEST}',
     "not only the pointer"),  # the pointer, then a paragraph of its own
    (f'"""{pointer("redirect/redirect_drops_port_80")}"""\n\n{TEST}', "not only the pointer"),  # another check's
    (f'"""{pointer("redirect/redirect_to_https")}"""\n\n'
     'def test_port_80_redirects() -> None:\n    """Port 80 redirects to https."""\n', "has a docstring"),
    (f'"""{pointer("redirect/redirect_to_https")}"""\n\n'
     'class TestRedirect:\n    """Port 80 redirects."""\n\n    def test_it(self) -> None:\n        pass\n',
     "has a docstring"),
])
def test_a_file_that_describes_its_check_fails(source: str, said: str) -> None:
    problems = docstring_problems(source, "redirect/redirect_to_https")
    assert problems and said in problems[0], problems


def test_tests_and_entries_that_do_not_pair_are_named() -> None:
    assert REDIRECT is not None
    node = "conformance/redirect/test_redirect_to_https.py::test_port_80_redirects_to_https_on_the_same_host[GET]"
    assert mapping_problems([node], [REDIRECT]) == []
    stray = "conformance/redirect/test_unlisted.py::test_it"
    assert "belongs to 0 catalogue entries" in mapping_problems([node, stray], [REDIRECT])[0]
    twice = replace(REDIRECT, id="redirect/copy")
    assert "belongs to 2 catalogue entries" in mapping_problems([node], [REDIRECT, twice])[0]
    untested = replace(REDIRECT, id="redirect/untested", file="redirect/test_untested.py")
    assert mapping_problems([node], [REDIRECT, untested]) == [
        "redirect/untested (redirect/test_untested.py) has no test"]
