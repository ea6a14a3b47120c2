"""Exports for retraining: reviewed items as jsonl, chat, SFT, DPO, CSV or Parquet, streamed.

One job a module:
- filters.py    what to export (ExportFilters), parsed from a surface's input and checked;
- selection.py  which items, read in batches and assembled into entries (final labels by
                review.services.labels);
- entries.py    the Entry, its flagged turn and its split (pure);
- redaction.py  masking personal data in text (pure);
- records.py    an Entry as each format's record; writers.py: records to bytes;
- formats.py    the registry: one entry per format (adding a format is one entry);
- manifests.py  where files go, the manifest's version and the dataset card;
- runs.py       streaming (audited when it ends), writing files with a manifest, previewing.

Callers use the names below: ``from review.services import exports``; ``exports.stream_export``.
"""

from review.services.exports.entries import Entry, flagged_turn, split_of
from review.services.exports.filters import (
    SPLITS,
    ExportFilters,
    check_filters,
    parse_date,
    parse_query,
    parse_split,
)
from review.services.exports.formats import FORMATS, REGISTRY, Format, parse_format
from review.services.exports.manifests import (
    dataset_card,
    flagq_version,
    manifest_paths,
    output_paths,
)
from review.services.exports.records import (
    CSV_COLUMNS,
    chat_record,
    csv_record,
    dpo_record,
    native_record,
    parquet_record,
    sft_record,
)
from review.services.exports.redaction import PHONE_REGION, redact_entry, redact_text
from review.services.exports.runs import (
    ExportStream,
    Preview,
    Stats,
    preview,
    stream_export,
    write_export,
)
from review.services.exports.selection import iter_entries
from review.services.exports.writers import (
    CsvWriter,
    JsonLinesWriter,
    ParquetWriter,
    Writer,
    neutralise,
    parquet_schema,
)

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "PHONE_REGION",
    "REGISTRY",
    "SPLITS",
    "CsvWriter",
    "Entry",
    "ExportFilters",
    "ExportStream",
    "Format",
    "JsonLinesWriter",
    "ParquetWriter",
    "Preview",
    "Stats",
    "Writer",
    "chat_record",
    "check_filters",
    "csv_record",
    "dataset_card",
    "dpo_record",
    "flagged_turn",
    "flagq_version",
    "iter_entries",
    "manifest_paths",
    "native_record",
    "neutralise",
    "output_paths",
    "parquet_record",
    "parquet_schema",
    "parse_date",
    "parse_format",
    "parse_query",
    "parse_split",
    "preview",
    "redact_entry",
    "redact_text",
    "sft_record",
    "split_of",
    "stream_export",
    "write_export",
]
