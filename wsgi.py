"""The gunicorn target: one app, hence one engine, per worker (no --preload)."""

from review import create_app

app = create_app()
