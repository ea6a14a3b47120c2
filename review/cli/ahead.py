"""Pre-sort for flagq import in a second process, which predicts lines ahead of the storing one.

Predicting costs about as much per line as parsing and storing it, and both are Python bound
to one core. So an import with an active model starts a helper process that reads the same
files, parses each line as the import does and predicts it with the same model version, while
the import stores earlier batches. The import takes a line's prediction when the helper's
line number, CRC-32 of the line and model version all match its own, and predicts anything
else itself, so the result is the same whether the helper is fast, slow, late or dead.

The helper gets its work on stdin (one JSON line, then the model artifact) and answers on
stdout: one JSON line naming the labels, then frames of fixed-layout rows (see _rows), a frame
being an 8-byte length and the rows' bytes; an empty frame ends the answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from classifiers import persistence, training
from review.cli.lines import open_input, read_lines
from review.errors import DomainError
from review.services.flagformat import Limits, parse_line
from review.services.presort import example_of

CHUNK_LINES = 1000  # lines per predict() call and per frame
CHUNKS_AHEAD = 30  # frames received but not yet used; then the helper waits
_FRAME = struct.Struct("<Q")

# A line: (index of its file in the import's paths, line number, CRC-32 of its bytes).
Line = tuple[int, int, int]


def _rows(n_labels: int) -> np.dtype:
    return np.dtype(
        [
            ("file", "<i4"),
            ("line", "<i8"),
            ("crc", "<u4"),
            ("label", "<i4"),  # index into labels, -1: the model abstains
            ("confidence", "<f8"),
            ("scores", "<f8", (n_labels,)),
        ]
    )


def usable(paths: Sequence[str]) -> bool:
    """Whether a helper can help: every input is a file it can read again, on 2+ cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores >= 2 and "-" not in paths


class PredictionsAhead:
    """The import's side: start the helper, collect its answers, hand them out by line."""

    def __init__(
        self, paths: Sequence[str], limits: Limits, version_id: int, artifact: bytes
    ) -> None:
        self.version_id = version_id
        self.failure: str | None = None
        self._labels: list[str] = []
        self._chunks: list[np.ndarray] = []  # the frames' rows, in the order they came
        self._dropped = 0  # chunks forgotten from the front of that list
        # (file, line) -> (CRC-32, number of its chunk, its index there)
        self._found: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._through: tuple[int, int] = (-1, -1)  # every line up to here has been answered
        self._done = False
        self._frames: queue.Queue[Any] = queue.Queue(maxsize=CHUNKS_AHEAD)
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close())
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from review.cli.ahead import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
        )
        work = {"paths": list(paths), "limits": dataclasses.asdict(limits)}
        self._reader = threading.Thread(
            target=self._receive, args=(work, artifact), name="flagq-ahead", daemon=True
        )
        self._reader.start()

    def _receive(self, work: dict[str, Any], artifact: bytes) -> None:
        # A thread: it spends its time waiting on the pipes, with the GIL released.
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            try:
                stdin.write(json.dumps({**work, "artifact_bytes": len(artifact)}).encode() + b"\n")
                stdin.write(artifact)
            finally:
                stdin.close()  # closed even when a helper that died breaks the pipe
            header = stdout.readline()
            if not header:
                raise EOFError
            self._frames.put(json.loads(header)["labels"])
            while True:
                size = stdout.read(_FRAME.size)
                if len(size) < _FRAME.size:
                    raise EOFError
                (length,) = _FRAME.unpack(size)
                data = stdout.read(length)
                if len(data) < length:
                    raise EOFError
                self._frames.put(data)
                if not length:
                    return
        except (OSError, EOFError, ValueError, KeyError) as error:
            self._frames.put(error)

    @property
    def running(self) -> bool:
        """Whether the helper process is still running."""
        return self._process.poll() is None

    def answered(self, through: tuple[int, int]) -> bool:
        """Whether get() for lines up to (file, line) would return without waiting."""
        while not self._done and self._through < through:
            try:
                self._take(self._frames.get_nowait())
            except queue.Empty:
                return False
        return True

    def _take(self, frame: Any) -> None:
        if isinstance(frame, list):
            self._labels = frame
        elif isinstance(frame, BaseException):
            self._fail(frame)
        elif not frame:
            self._done = True
        else:
            rows = np.frombuffer(frame, dtype=_rows(len(self._labels)))
            chunk = self._dropped + len(self._chunks)
            self._chunks.append(rows)
            files, numbers = rows["file"].tolist(), rows["line"].tolist()
            for index, (file, number, line_crc) in enumerate(
                zip(files, numbers, rows["crc"].tolist(), strict=True)
            ):
                self._found[file, number] = (line_crc, chunk, index)
            self._through = (files[-1], numbers[-1])

    def _stop(self) -> int:
        """Kill the helper if it still runs; return its exit code."""
        if self._process.poll() is None:
            self._process.kill()
        return self._process.wait()

    def _fail(self, error: BaseException) -> None:
        code = self._stop()
        self._errors.seek(0)
        said = self._errors.read().decode("utf-8", "replace").strip().splitlines()
        reason = said[-1] if said else f"{type(error).__name__} {error}".strip()
        self.failure = f"the pre-sort helper stopped (exit code {code}): {reason}"
        self._done = True

    def get(self, version_id: int, lines: Sequence[Line]) -> list[training.Prediction | None]:
        """Return the helper's prediction of each line, or None where the import must predict.

        Waits for the helper to reach the last of the lines (it reads the same files in the
        same order). A line counts only if its CRC-32 matches: a file rewritten while it is
        imported gets its new lines predicted by the import.
        """
        if version_id != self.version_id or not lines:
            return [None] * len(lines)
        last = max((file, number) for file, number, _ in lines)
        while not self._done and self._through < last:
            self._take(self._frames.get())
        # Positions in `lines` and row indices, per chunk: rows are gathered a chunk at a time.
        by_chunk: dict[int, tuple[list[int], list[int]]] = {}
        for position, (file, number, line_crc) in enumerate(lines):
            hit = self._found.get((file, number))
            if hit is not None and hit[0] == line_crc:
                positions, indices = by_chunk.setdefault(hit[1], ([], []))
                positions.append(position)
                indices.append(hit[2])
        predictions: list[training.Prediction | None] = [None] * len(lines)
        if by_chunk:
            rows = np.concatenate(
                [self._chunks[c - self._dropped][i] for c, (_, i) in by_chunk.items()]
            )
            made = training.as_predictions(
                self._labels, rows["label"], rows["confidence"], rows["scores"]
            )
            order = (p for positions, _ in by_chunk.values() for p in positions)
            for position, prediction in zip(order, made, strict=True):
                predictions[position] = prediction
        return predictions

    def forget(self, through: tuple[int, int]) -> None:
        """Drop the answers for lines up to (file, line): the import is past them."""
        self._found = {key: hit for key, hit in self._found.items() if key > through}
        while self._chunks:
            last = self._chunks[0][-1]
            if (int(last["file"]), int(last["line"])) > through:
                break
            self._chunks.pop(0)
            self._dropped += 1

    def close(self) -> None:
        """Stop the helper if it still runs, and let go of its pipes."""
        self._stop()
        while self._reader.is_alive():
            with contextlib.suppress(queue.Empty):  # a reader waiting to hand over a frame
                self._frames.get(timeout=0.1)
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._errors.close()


def crc(line: bytes) -> int:
    """Return the CRC-32 both processes compute of a line's bytes."""
    return zlib.crc32(line)


def serve() -> None:
    """The helper: read the work from stdin, answer on stdout (see the module docstring)."""
    # Ctrl-C is the import's to handle; it ends the helper by closing the pipes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.simplefilter("ignore")
    work = json.loads(sys.stdin.buffer.readline())
    model = persistence.loads(sys.stdin.buffer.read(work["artifact_bytes"]))
    limits = Limits(**work["limits"])
    out = sys.stdout.buffer
    out.write(json.dumps({"labels": model.labels}).encode() + b"\n")
    dtype = _rows(len(model.labels))
    pending: list[tuple[int, int, int, Any]] = []

    def answer() -> None:
        proba = training.probabilities(model, [example for *_, example in pending])
        chosen, confidence = training.decisions(model, proba)
        rows = np.zeros(len(pending), dtype=dtype)
        rows["file"], rows["line"], rows["crc"] = zip(*(p[:3] for p in pending), strict=True)
        rows["label"], rows["confidence"], rows["scores"] = chosen, confidence, proba
        out.write(_FRAME.pack(rows.nbytes))
        out.write(rows.tobytes())
        out.flush()
        pending.clear()

    for file, path in enumerate(work["paths"]):
        with open_input(path) as stream:
            for number, line in read_lines(stream, limits.max_line_bytes):
                if not isinstance(line, bytes) or not line.strip():
                    continue
                try:
                    flag = parse_line(line, limits)
                except DomainError:
                    continue  # the import rejects it too
                pending.append((file, number, crc(line), example_of(flag)))
                if len(pending) == CHUNK_LINES:
                    answer()
    if pending:
        answer()
    out.write(_FRAME.pack(0))
    out.flush()
