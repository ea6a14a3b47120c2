"""HTML blueprints, one per user group."""

from typing import Any

from flask import Flask

from models import Role

# (endpoint, label, roles) of the top navigation; links to areas that are not
# registered in this app are left out.
NAV_LINKS: list[tuple[str, str, tuple[Role, ...]]] = [
    ("queue.home", "Queue", (Role.REVIEWER, Role.ADMIN)),
    ("queue.me", "My work", (Role.REVIEWER, Role.ADMIN)),
    ("audit.home", "Audit", (Role.AUDITOR, Role.ADMIN)),
    ("exports.home", "Exports", (Role.TRAINER, Role.ADMIN)),
    ("admin.home", "Admin", (Role.ADMIN,)),
]


def register_nav(app: Flask) -> None:
    """Give every template the navigation links that exist in this app."""

    @app.context_processor
    def _nav() -> dict[str, Any]:
        return {"nav_links": [link for link in NAV_LINKS if link[0] in app.view_functions]}
