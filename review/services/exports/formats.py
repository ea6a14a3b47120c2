"""The export formats: one registry entry each, the only place that knows a format.

Adding a format is one entry: its name, file extension, media type, record builder (an Entry and
the current taxonomy version in, a record out, or None when the format leaves the item out) and
writer factory (given whether rows carry a split column).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from review.errors import Invalid
from review.services.exports import records
from review.services.exports.entries import Entry
from review.services.exports.writers import CsvWriter, JsonLinesWriter, ParquetWriter, Writer

Record = Callable[[Entry, int], dict[str, Any] | None]


@dataclass(frozen=True)
class Format:
    name: str
    extension: str
    media_type: str
    record: Record
    writer: Callable[[bool], Writer]  # with_split -> a new writer
    skips: bool = False  # whether record() may leave selected items out


_JSONL = "application/x-ndjson"


def _json_lines(_with_split: bool) -> Writer:
    return JsonLinesWriter()


def _csv(with_split: bool) -> Writer:
    return CsvWriter([*records.CSV_COLUMNS, "split"] if with_split else records.CSV_COLUMNS)


REGISTRY: dict[str, Format] = {
    f.name: f
    for f in (
        Format("jsonl", "jsonl", _JSONL, records.native_record, _json_lines),
        Format("openai-chat", "jsonl", _JSONL, records.chat_record, _json_lines, skips=True),
        Format("sft", "jsonl", _JSONL, records.sft_record, _json_lines, skips=True),
        Format("dpo", "jsonl", _JSONL, records.dpo_record, _json_lines, skips=True),
        Format("csv", "csv", "text/csv; charset=utf-8", records.csv_record, _csv),
        Format(
            "parquet",
            "parquet",
            "application/vnd.apache.parquet",
            records.parquet_record,
            ParquetWriter,
        ),
    )
}
FORMATS = tuple(REGISTRY)


def parse_format(value: str | None) -> str:
    """Return the export format, or raise Invalid naming the choices."""
    if value not in REGISTRY:
        raise Invalid.field("format", f"unknown format {value!r}; use one of {', '.join(FORMATS)}")
    return value
