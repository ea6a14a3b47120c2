"""Read JSONL input for flagq import: files, gzip files or stdin, a numbered line at a time."""

import codecs
import gzip
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from review.errors import Invalid

GZIP_MAGIC = b"\x1f\x8b"
SKIP_CHUNK = 1024 * 1024


@contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """Open a path (or - for stdin) for binary reading, unpacking gzip by its magic bytes."""
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
        peek = getattr(raw, "peek", None)
        head = peek(2)[:2] if peek else b""
        owned = False
    else:
        raw = open(path, "rb")  # noqa: SIM115  (closed below)
        head = raw.read(2)
        raw.seek(0)
        owned = True
    try:
        if head == GZIP_MAGIC or path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
                yield unpacked  # type: ignore[misc]
        else:
            yield raw
    finally:
        if owned:
            raw.close()


def read_lines(stream: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | Invalid]]:
    """Yield (line number, bytes or error), reading at most max_bytes + 1 bytes at a time."""
    number = 0
    while True:
        try:
            line = stream.readline(max_bytes + 1)
        except (OSError, EOFError, zlib.error) as error:
            yield number + 1, Invalid.field("file", f"cannot be read further ({error})")
            return
        if not line:
            return
        number += 1
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]  # Windows editors start UTF-8 files so
        if len(line) > max_bytes and not line.endswith(b"\n"):
            # Skip the rest of the line a chunk at a time, then carry on with the next one.
            try:
                while (chunk := stream.readline(SKIP_CHUNK)) and not chunk.endswith(b"\n"):
                    pass
            except (OSError, EOFError, zlib.error) as error:
                yield number, Invalid.field("file", f"cannot be read further ({error})")
                return
            yield number, Invalid.field("line", f"longer than {max_bytes} bytes")
            continue
        yield number, line
