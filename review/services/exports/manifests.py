"""Where an export's files go, and the manifest's companions: version and dataset card."""

import json
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from review.services.exports.filters import SPLITS
from review.services.exports.formats import REGISTRY


def flagq_version() -> str:
    """Return the installed flagq version."""
    try:
        return package_metadata.version("flagq")
    except package_metadata.PackageNotFoundError:
        return "0+unknown"


def _is_dir(target: Path | str) -> bool:
    return str(target).endswith(("/", "\\")) or Path(target).is_dir()


def output_paths(target: Path | str, fmt: str, split: bool) -> dict[str | None, Path]:
    """Return the data file per split (None: no split) for -o target.

    A directory (existing, or named with a trailing slash) gets train.EXT / validation.EXT
    (or data.EXT) beside manifest.json and README.md, the layout ``datasets`` reads; a file
    path PATH.EXT gets PATH-train.EXT / PATH-validation.EXT.
    """
    ext = REGISTRY[fmt].extension
    is_dir, target = _is_dir(target), Path(target)
    if is_dir:
        if split:
            return {s: target / f"{s}.{ext}" for s in SPLITS}
        return {None: target / f"data.{ext}"}
    if split:
        stem = target.name[: -len(ext) - 1] if target.name.endswith(f".{ext}") else target.name
        return {s: target.with_name(f"{stem}-{s}.{ext}") for s in SPLITS}
    return {None: target}


def manifest_paths(target: Path | str, fmt: str) -> tuple[Path, Path]:
    """Return where the JSON manifest and the Markdown dataset card go for -o target."""
    is_dir, target = _is_dir(target), Path(target)
    if is_dir:
        return target / "manifest.json", target / "README.md"
    ext = REGISTRY[fmt].extension
    stem = target.name[: -len(ext) - 1] if target.name.endswith(f".{ext}") else target.name
    return target.with_name(f"{stem}.manifest.json"), target.with_name(f"{stem}.md")


def dataset_card(manifest: dict[str, Any]) -> str:
    """Return a short Markdown dataset card for a manifest."""
    counts = manifest["counts"]
    filters = {k: v for k, v in manifest["filters"].items() if v not in (None, False, [])}
    lines = [
        f"# flagq export ({manifest['format']})",
        "",
        "Reviewed, error-typed chatbot conversations exported by flagq "
        f"{manifest['flagq_version']} at {manifest['created_at']}, labels in taxonomy version "
        f"{manifest['taxonomy_version']}.",
        "",
        "Filters: "
        + (", ".join(f"{k}={json.dumps(v)}" for k, v in filters.items()) or "none")
        + ".",
        "",
        f"Rows: {counts['rows']} ({counts['skipped']} selected items left out by this format).",
        "",
        "| label | rows |",
        "| --- | --- |",
        *(f"| {label} | {n} |" for label, n in counts["by_label"].items()),
        "",
        "| file | split | rows | sha256 |",
        "| --- | --- | --- | --- |",
        *(
            f"| {f['path']} | {f['split'] or 'all'} | {f['rows']} | `{f['sha256']}` |"
            for f in manifest["files"]
        ),
        "",
        "Conversations come from users of a chatbot and may contain offensive text"
        + ("; e-mails, phones, cards, IPs and URLs were masked." if filters.get("redact") else "."),
        "",
    ]
    return "\n".join(lines)
