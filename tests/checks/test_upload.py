"""The generated upload body: exactly ``size`` bytes, the same for every run, hashed as it is read.

Fails when a read crosses a block boundary wrongly (bytes repeated or skipped), the body runs past its size, or the
hash is not of the bytes actually sent (the node's report would then never match).
"""

from __future__ import annotations

import hashlib

from flowlb.checks.upload import BLOCK, GeneratedBody


def _read_all(body: GeneratedBody, chunk: int) -> bytes:
    parts = []
    while data := body.read(chunk):
        parts.append(data)
    return b"".join(parts)


def test_the_body_is_its_size_and_its_hash_is_of_what_was_read() -> None:
    """Breaks if reads in odd sizes across block boundaries change the bytes, or the size or hash is off."""
    size = 2 * BLOCK + 12345
    odd = _read_all(GeneratedBody(size), 300_007)
    whole = _read_all(GeneratedBody(size), size)
    assert len(odd) == size and odd == whole
    body = GeneratedBody(size)
    assert hashlib.sha256(_read_all(body, 65536)).hexdigest() == body.sha256.hexdigest()
    assert body.sent == size and body.read(10) == b""


def test_the_same_seed_gives_the_same_bytes_and_another_does_not() -> None:
    """Breaks if the body is not repeatable across runs (seeded), or the seed is ignored."""
    assert _read_all(GeneratedBody(1000), 1000) == _read_all(GeneratedBody(1000), 1000)
    assert _read_all(GeneratedBody(1000, seed=1), 1000) != _read_all(GeneratedBody(1000), 1000)
