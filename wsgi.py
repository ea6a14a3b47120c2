"""The gunicorn target: one app, hence one engine, per worker (no --preload)."""

from classifiers import persistence
from review import create_app

app = create_app()
# Web workers import sklearn and skops now, so that no request pays for the first import.
persistence.preload()
