"""What an answer may cost: a deadline by its stated size, a document bounded in size whether
compressed or not, and a transfer cut short told from a replaced file."""

from __future__ import annotations

import http.client
import zlib
from collections.abc import Callable

from wheelbundle.cache import CHUNK
from wheelbundle.errors import TooLarge
from wheelbundle.redaction import redact

TIMEOUT = 60.0
"""Seconds a socket may wait for one read, and a request for its answer's headers."""
MIN_RATE = 8 << 10
"""Bytes a second below which an answer counts as stalled: a server that sends a byte every few
seconds never trips the socket's timeout, which is per read, so each request has a deadline."""
UNSIZED_SECONDS = 1800.0
"""The deadline for an answer's body of no stated length, beyond TIMEOUT."""
MAX_DOCUMENT = 64 << 20
"""The largest page or document read whole, compressed or not (PyPI's largest, for projects
with nightly wheels, run to about 20 MB): a 3 MB answer that inflates to gigabytes is refused at
this size, not read into memory."""
MAX_ANSWER = 64 << 10
"""What is read of an answer we only look at (an error page, a redirect, an upload's reply)."""


class CutShort(http.client.HTTPException):
    """A response that ended before the length it announced: the network cut it, the file
    was not replaced, so it is tried again (a whole file with other bytes is a HashMismatch)."""

    def __init__(self, arrived: int, length: str):
        self.arrived = f"{arrived} of {length}" if length.isdigit() else str(arrived)
        super().__init__(f"the transfer was cut short ({self.arrived} bytes arrived)")

    def after(self, tries: int) -> str:
        return (
            f"the transfer was cut short ({self.arrived} bytes arrived, {tries} tries); "
            "the network or the index is failing: try again"
        )


def read_chunk(read: Callable[[int], bytes], arrived: int, length: str) -> bytes:
    """The next chunk of a body; CutShort where http.client finds it ended early."""
    try:
        return read(CHUNK)
    except http.client.IncompleteRead as exc:
        raise CutShort(arrived + len(exc.partial), length) from exc


def body_seconds(length: str | None) -> float:
    """How long an answer's body may take: at MIN_RATE for its stated length."""
    if length is not None and length.isdigit():
        return TIMEOUT + int(length) / MIN_RATE
    return TIMEOUT + UNSIZED_SECONDS


def inflated(body: bytes, url: str) -> bytes:
    """A gzip-encoded answer inflated, no further than MAX_DOCUMENT."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data, left = bytearray(), body
    try:  # in pieces, so that memory grows with what is kept, and stops at the bound
        while not inflater.eof and len(data) <= MAX_DOCUMENT:
            piece = inflater.decompress(left, CHUNK)  # b"" input flushes what zlib still holds
            left = inflater.unconsumed_tail
            if not piece and not left:
                break  # the input ended before the stream did
            data += piece
    except zlib.error as exc:
        raise OSError(f"a damaged compressed answer ({exc})") from exc
    if len(data) > MAX_DOCUMENT:
        raise TooLarge(
            f"{redact(url)} sent {len(body)} compressed bytes that inflate past "
            f"{MAX_DOCUMENT >> 20} MB; not read (a compression bomb?)"
        )
    if not inflater.eof:
        raise OSError("a damaged compressed answer (it ends too soon)")
    return bytes(data)
