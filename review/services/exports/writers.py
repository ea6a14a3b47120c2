"""Writers: records in, bytes out, so that every format streams in flat memory.

CSV cells that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
single quote (OWASP's advice against formula injection), so ``-5`` is written ``'-5``; so do
cells that start so after blanks or with a full-width look-alike, and a quote goes after a
``;`` or ``,`` that such a character follows (see neutralise).
"""

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_SIZE = 10_000  # Parquet rows per row group: fixed, so files are byte-identical


# What a spreadsheet may take for the start of a formula (OWASP's CSV injection list), with
# the full-width and small forms some spreadsheets fold onto =, +, - and @.
_FORMULA_CHARS = "=+-@\t\r\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\u2212"
# A cell starting with one, after any blank; or one after a separator, where a spreadsheet that
# splits on ; or , (by locale or by guess) would start a new cell.
_FORMULA_CLASS = "[" + re.escape(_FORMULA_CHARS) + "]"
_FORMULA_AT_START = re.compile("[ \\t\\r\\n\\u00a0\\u3000]*" + _FORMULA_CLASS)
_FORMULA_AFTER_SEPARATOR = re.compile("([,;][ \\u00a0\\u3000]*)(?=" + _FORMULA_CLASS + ")")


def neutralise(cell: str) -> str:
    """Return cell made inert for spreadsheets: a quote before anything that starts a formula.

    The cell gets a leading quote if it would start one (leading blanks and full-width look-alikes
    included), and a quote goes after each ; or , that a formula would follow.
    """
    if _FORMULA_AFTER_SEPARATOR.search(cell):
        cell = _FORMULA_AFTER_SEPARATOR.sub("\\1'", cell)
    return "'" + cell if _FORMULA_AT_START.match(cell) else cell


class Writer:
    """Turn records into bytes: header, one chunk per record (maybe empty), and a tail."""

    def start(self) -> bytes:
        return b""

    def write(self, record: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        return b""


_JSON_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class JsonLinesWriter(Writer):
    def write(self, record: dict[str, Any]) -> bytes:
        return (_JSON_LINE.encode(record) + "\n").encode()


class CsvWriter(Writer):
    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")

    def _line(self, cells: Sequence[str]) -> bytes:
        self.writer.writerow(cells)
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")

    def start(self) -> bytes:
        return self._line(self.columns)

    def write(self, record: dict[str, Any]) -> bytes:
        return self._line([neutralise(str(record.get(c, ""))) for c in self.columns])


class _Sink:
    """A write-only file for pyarrow that hands its bytes over as they come."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


_FLAG_TYPE = pa.struct(
    [
        ("reason", pa.string()),
        ("category", pa.string()),
        ("flagged_at", pa.timestamp("us", tz="UTC")),
        ("message_index", pa.int32()),
    ]
)


_MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])


_DECISION_TYPE = pa.struct(
    [
        ("label", pa.string()),
        ("original_label", pa.string()),
        ("kind", pa.string()),
        ("reviewer", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("note", pa.string()),
        ("corrected_response", pa.string()),
        ("taxonomy_version", pa.int32()),
    ]
)


def parquet_schema(with_split: bool) -> pa.Schema:
    """Return the typed schema of the parquet format (metadata is kept as JSON text)."""
    fields = [
        ("external_id", pa.string()),
        ("messages", pa.list_(_MESSAGE_TYPE)),
        ("flag", _FLAG_TYPE),
        ("metadata", pa.string()),
        ("label", pa.string()),
        ("final_label", pa.string()),
        ("flags", pa.list_(_FLAG_TYPE)),
        ("decisions", pa.list_(_DECISION_TYPE)),
        ("corrected_response", pa.string()),
        ("taxonomy_version", pa.int32()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("model_version", pa.int64()),
    ]
    if with_split:
        fields.append(("split", pa.string()))
    return pa.schema(fields)


class ParquetWriter(Writer):
    """Buffer rows into fixed-size row groups and hand over each group's bytes."""

    def __init__(self, with_split: bool) -> None:
        self.schema = parquet_schema(with_split)
        self.sink = _Sink()
        self.writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")
        self.rows: list[dict[str, Any]] = []

    def _flush_rows(self) -> bytes:
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=self.schema)
            self.writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
            self.rows.clear()
        return self.sink.take()

    def write(self, record: dict[str, Any]) -> bytes:
        self.rows.append({**record, "metadata": json.dumps(record["metadata"], sort_keys=True)})
        return self._flush_rows() if len(self.rows) >= ROW_GROUP_SIZE else b""

    def finish(self) -> bytes:
        data = self._flush_rows()
        self.writer.close()
        return data + self.sink.take()
