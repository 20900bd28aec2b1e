"""A large request body made on the fly: read like a file, hashed as it is read, never held in memory.

    body = GeneratedBody(256 * 1024**2)
    pool.request("POST", "/flowlb/upload", body=body, headers={"Content-Length": str(body.size)})
    body.sha256.hexdigest()   # what the node must report
"""

from __future__ import annotations

import hashlib
import io
import random

BLOCK = 1024 * 1024


class GeneratedBody(io.RawIOBase):
    """``size`` bytes of a repeating pseudo-random block (seeded, so runs agree), hashed as they are read."""

    def __init__(self, size: int, seed: int = 281) -> None:
        super().__init__()
        self.size = size
        self.sent = 0
        self.sha256 = hashlib.sha256()
        self._block = random.Random(seed).randbytes(BLOCK)  # test data, not a secret

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.size - self.sent, BLOCK - self.sent % BLOCK)
        start = self.sent % BLOCK
        chunk = self._block[start : start + count]
        buffer[:count] = chunk
        self.sha256.update(chunk)
        self.sent += count
        return count
