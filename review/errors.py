"""The domain errors and how each surface shows them."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DomainError(Exception):
    """Base of the errors services raise; each maps to one HTTP status."""

    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    status = 400

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "details": self.details}


class Invalid(DomainError):
    status = 422

    @classmethod
    def field(cls, name: str, message: str) -> "Invalid":
        """Name the one field at fault."""
        return cls(f"{name}: {message}", [{"field": name, "message": message}])


class Malformed(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class TooLarge(DomainError):
    status = 413
