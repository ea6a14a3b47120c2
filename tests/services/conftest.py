"""Fixtures shared by the service tests: two reviewers."""

import pytest

from models import Role

from factories import make_user


@pytest.fixture
def reviewer(app):
    return make_user(Role.REVIEWER, "rita")


@pytest.fixture
def other(app):
    return make_user(Role.REVIEWER, "otto")
