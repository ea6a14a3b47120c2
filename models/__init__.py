"""flagq's data model: plain typed SQLAlchemy 2.x, free of Flask."""

from models.audit import AuditEvent
from models.base import Base, utcnow
from models.classification import ClassifierVersion, Prediction
from models.decisions import Decision, DecisionKind, Escalation, Skip, WorkInterval
from models.items import Flag, Item, ItemStatus
from models.taxonomy import NO_ERROR, Category, Setting, TaxonomyVersion
from models.users import ApiToken, Role, User

__all__ = [
    "NO_ERROR",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Category",
    "ClassifierVersion",
    "Decision",
    "DecisionKind",
    "Escalation",
    "Flag",
    "Item",
    "ItemStatus",
    "Prediction",
    "Role",
    "Setting",
    "Skip",
    "TaxonomyVersion",
    "User",
    "WorkInterval",
    "utcnow",
]
