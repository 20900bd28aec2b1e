"""The config model is one immutable value per text: every reader of a config shares it, so it is parsed once.

Fails when the model can be changed in place (a reader could then change what every other reader sees), when the
same text under the same environment is parsed again, when a changed environment (``"$VAR"``) is served a model
made under the old one, or when a section's inherited ``defaults`` is lost while the model is frozen.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from flowlb.haproxy.config import HAProxyConfig, model_of, parsed

TEXT = "global\n  setenv X 1\ndefaults\n  timeout client 5s\nbackend b\n  server s \"$FLOWLB_TEST_HOST\":8000\n"


def test_the_same_text_is_parsed_once_and_shared() -> None:
    first = parsed(TEXT)
    assert parsed(TEXT) is first
    assert model_of(first) is first and model_of(TEXT) is first
    assert parsed(TEXT + "\n") is not first


def test_the_model_cannot_be_changed() -> None:
    config = parsed(TEXT)
    with pytest.raises(FrozenInstanceError):
        config.text = ""  # type: ignore[misc]
    backend = config.proxy("b")
    assert backend is not None
    with pytest.raises(FrozenInstanceError):
        backend.defaults = None  # type: ignore[misc]
    assert isinstance(config.lines, tuple) and isinstance(config.sections, tuple) and isinstance(backend.lines, tuple)


def test_a_changed_environment_gets_its_own_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWLB_TEST_HOST", "10.0.0.1")
    before = parsed(TEXT)
    monkeypatch.setenv("FLOWLB_TEST_HOST", "10.0.0.2")
    after = parsed(TEXT)
    assert [s.address.host for s in before.servers() if s.address] == ["10.0.0.1"]
    assert [s.address.host for s in after.servers() if s.address] == ["10.0.0.2"]


def test_sections_keep_the_defaults_they_inherit() -> None:
    """The first ``defaults`` named by ``from`` is the first section of all: it must not read as "none"."""
    config = HAProxyConfig.parse("defaults base\n  timeout client 7s\ndefaults other\n  timeout client 9s\n"
                                 "backend b from base\n  server s 10.0.0.1:8000\nbackend c\n  server s 10.0.0.1:8000\n")
    b, c = config.proxy("b"), config.proxy("c")
    assert b is not None and c is not None
    assert b.defaults is not None and b.defaults.name == "base" and b.timeout_s("client") == 7.0
    assert c.defaults is not None and c.defaults.name == "other" and c.timeout_s("client") == 9.0
    assert [line.text for line in b.lines] == ["server s 10.0.0.1:8000"]


def test_variables_the_text_does_not_name_do_not_part_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest changes ``PYTEST_CURRENT_TEST`` for every test: a key on the whole environment parsed once per test."""
    first = parsed(TEXT)
    monkeypatch.setenv("FLOWLB_UNRELATED", "1")
    assert parsed(TEXT) is first
