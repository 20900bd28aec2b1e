"""flowlb reads a config line into the words HAProxy reads (``parse_line()`` in HAProxy's src/tools.c).

Fails when an escape, a quote or a variable decodes differently from HAProxy: a keyword written
``\\x73erver`` or ``lo\\x67`` would then hide from the remap while HAProxy obeys it. Where HAProxy itself
is here, each line is also checked against what HAProxy makes of it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flowlb.haproxy.config import HAProxyConfig
from flowlb.haproxy.words import tokenize

CASES = [
    (r"\x73erver flow3 10.9.9.9:8000 check", ["server", "flow3", "10.9.9.9:8000", "check"]),
    (r"lo\x67 10.9.9.9:514 local0", ["log", "10.9.9.9:514", "local0"]),
    (r"\x72esolvers dns", ["resolvers", "dns"]),
    (r"\X41 \x4a\x4A", ["\\X41", "JJ"]),  # only a lower-case x starts a hex escape
    (r'se"rv"er a', ["server", "a"]),
    (r"se'rv'er a", ["server", "a"]),
    (r'"a b" c', ["a b", "c"]),
    (r"a\ b c", ["a b", "c"]),
    (r"a\\b", ["a\\b"]),
    (r"a\#b #comment", ["a#b"]),
    (r"a#b", ["a"]),
    (r"'a#b' \"c\" \'d\'", ["a#b", '"c"', "'d'"]),
    (r"'\x73\"' x", ["\\x73\\\"", "x"]),  # nothing is decoded inside single quotes
    (r'"\x73\"\'"', ["s\"'"]),  # but it is inside double quotes
    (r"\1 \t", ["\\1", "\t"]),
    (r'a"b c"d', ["ab cd"]),
    (r"caf\xc3\xa9", ["caf\u00e9"]),  # \xHH gives a byte: two of them one UTF-8 letter
    ("a\vb\fc", ["a", "b", "c"]),  # C's isspace(): vertical tab and form feed separate too
    ("a\rserver b", ["a"]),  # a CR ends the line
    ("   [scope]", []),
    (r'"$NAME" "${NAME}x" "${MISSING-dflt}" $NAME "\$NAME"', ["server", "serverx", "dflt", "$NAME", "$NAME"]),
    (r'"${WORDS[*]}" z', ["a", "b", "z"]),
    (r'"${.LINE}"', ["7"]),
]


@pytest.mark.parametrize(("line", "words"), CASES, ids=[c[0] for c in CASES])
def test_words_are_haproxys(line: str, words: list[str]) -> None:
    tokens = tokenize(line, {"NAME": "server", "WORDS": "a b"}, line_number=7)
    assert [t.value for t in tokens] == words


def test_each_word_keeps_its_span() -> None:
    line = r'  \x73erver "fl ow" 10.0.0.1:80 # c'
    assert [line[t.start : t.end] for t in tokenize(line)] == [r"\x73erver", '"fl ow"', "10.0.0.1:80"]


def test_setenv_in_global_feeds_later_lines() -> None:
    config = HAProxyConfig.parse(
        'global\n  setenv KW server\n  presetenv KW log\nbackend b\n  "$KW" flow3 10.9.9.9:8000 check\n', {})
    assert [s.name for s in config.servers()] == ["flow3"]
    config = HAProxyConfig.parse('global\n  unsetenv KW\nbackend b\n  "${KW-server}" f 10.9.9.9:8000\n', {"KW": "x"})
    assert [s.name for s in config.servers()] == ["f"]


def test_escaped_section_keyword_opens_the_section() -> None:
    config = HAProxyConfig.parse("\\x72esolvers dns\n  nameserver ns 10.9.9.9:53\nbac\\x6bend b\n", {})
    assert [s.kind for s in config.sections] == ["resolvers", "backend"]


def _quoted_by_haproxy(line: str) -> bool:
    """Whether HAProxy's error for ``line`` in ``global`` quotes its first word (not for a known keyword)."""
    words = [t.value for t in tokenize(line)]
    return bool(words) and words[0] not in ("server", "log", "resolvers") and "\r" not in line


@pytest.mark.parametrize("line", [c[0] for c in CASES[:19] if _quoted_by_haproxy(c[0])])
def test_haproxy_reads_the_same_words(line: str, haproxy_bin: str, tmp_path: Path) -> None:
    """HAProxy's own reading, through an error message that quotes the first word it does not know."""
    words = [t.value for t in tokenize(line)]
    config = tmp_path / "h.cfg"
    config.write_text(f"global\n  {line}\n")
    result = subprocess.run([haproxy_bin, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert f"unknown keyword '{words[0]}'" in result.stdout + result.stderr
