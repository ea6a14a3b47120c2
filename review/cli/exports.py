"""flagq export: reviewed examples for retraining, streamed to stdout or written with a manifest."""

import sys

import click

from review.cli import cli, emit, fail, say
from review.errors import DomainError
from review.extensions import db
from review.services import exports


@cli.command("export")
@click.option(
    "--format", "fmt", required=True, type=click.Choice(exports.FORMATS), help="Output format."
)
@click.option("--category", "categories", multiple=True, help="Only this final label (repeat).")
@click.option("--since", help="Decided on or after this date (YYYY-MM-DD or ISO date-time).")
@click.option("--until", help="Decided on or before this date (a bare date includes that day).")
@click.option("--split", help="Train share, e.g. 0.9: a hash of external_id picks the split.")
@click.option(
    "--part",
    type=click.Choice(exports.SPLITS),
    help="Without -o: stream only this part of the split (else rows carry a split field).",
)
@click.option("--agreed", is_flag=True, help="Only adjudicated items or agreed second reviews.")
@click.option("--include-escalated", is_flag=True, help="Keep items with an unresolved escalation.")
@click.option("--model-version", type=int, help="Only items pre-sorted by this classifier version.")
@click.option("--redact", is_flag=True, help="Mask e-mails, phones, cards, IPs and URLs.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=True),
    help="Write file(s), a manifest and a dataset card here (a directory if it ends in /).",
)
def export_command(
    fmt: str,
    categories: tuple[str, ...],
    since: str | None,
    until: str | None,
    split: str | None,
    part: str | None,
    agreed: bool,
    include_escalated: bool,
    model_version: int | None,
    redact: bool,
    output: str | None,
) -> None:
    """Export reviewed examples; streams to stdout unless -o is given."""
    try:
        filters = exports.ExportFilters(
            categories=categories,
            since=exports.parse_date(since, "since"),
            until=exports.parse_date(until, "until", end=True),
            agreed=agreed,
            include_escalated=include_escalated,
            model_version=model_version,
            split=exports.parse_split(split),
            part=part,
            redact=redact,
        )
        if output is not None:
            manifest = exports.write_export(db.session, None, fmt, filters, output)
            db.session.commit()
            emit(manifest)
            return
        stream = exports.stream_export(db.session, None, fmt, filters)
    except DomainError as error:
        raise fail(error) from None
    sys.stdout.flush()
    out = sys.stdout.buffer
    for chunk in stream.chunks(db.session):
        out.write(chunk)
    out.flush()
    summary = stream.finish(db.session)
    db.session.commit()
    counts = summary["counts"]
    say(
        f"exported {counts['rows']} rows ({counts['skipped']} left out by the format); "
        f"sha256 {summary['sha256']}"
    )
