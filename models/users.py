"""Accounts, their roles and their API tokens."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, enum_column, utcnow


class Role(StrEnum):
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    TRAINER = "trainer"
    ADMIN = "admin"
    INTEGRATION = "integration"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, 20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Throttling of password guessing: failures since the last success, and when
    # the account may next try. Kept on the row so every worker agrees.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Every browser session carries the version it was signed in under; bumping it
    # (review.services.accounts.end_sessions) ends all of them at their next request.
    session_version: Mapped[int] = mapped_column(default=1, server_default=sa.text("1"))
    # Wellbeing: category slugs this reviewer has chosen not to be shown.
    excluded_categories: Mapped[list[str]] = mapped_column(default=list)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user", lazy="raise")

    # Flask-Login's protocol, as plain properties: the model stays free of flask.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    # sha256 of the token: tokens are long random strings, so a fast hash is safe
    # and lets every request find its token by an index lookup.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens", lazy="joined")
