"""Streamed downloads, shared by the UI and the API (surfaces share modules, never each other)."""

from collections.abc import Iterator

from flask import Response, stream_with_context

from review.extensions import db
from review.services import exports


def export_response(stream: exports.ExportStream) -> Response:
    """Return a response that streams the export and audits it when it ends (or is cut off).

    The body is produced after the view returned, in the context stream_with_context keeps:
    that context's session reads the rows and records the audit event, and is committed here.
    """

    def generate() -> Iterator[bytes]:
        session = db.session
        try:
            yield from stream.chunks(session)
        finally:
            stream.finish(session)
            session.commit()

    return Response(
        stream_with_context(generate()),
        # The whole Content-Type: given as mimetype, Flask would add a second charset.
        content_type=stream.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{stream.filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
