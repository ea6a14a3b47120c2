"""The gunicorn target: one app, hence one engine, per worker (no --preload)."""

from gunicorn.errors import AppImportError

from classifiers import persistence
from review import create_app
from review.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # Gunicorn prints this one line and stops, instead of a traceback per worker.
    raise AppImportError(f"flagq: {error}") from None
# Web workers import sklearn and skops now, so that no request pays for the first import.
persistence.preload()
