"""The trainer's export page: guarded, previews counts, downloads the file."""

import json

import pytest
from services.test_exports import seed

from models import Role
from review.extensions import db

from factories import csrf_token, login, make_user


def test_reviewer_is_forbidden(app, client) -> None:
    make_user(Role.REVIEWER, "rita")
    login(client, "rita")
    assert client.get("/exports").status_code == 403


def test_anonymous_is_sent_to_sign_in(app, client) -> None:
    response = client.get("/exports")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_trainer_lands_on_exports(app, client) -> None:
    make_user(Role.TRAINER, "tess")
    response = login(client, "tess")
    assert response.headers["Location"].endswith("/exports")
    page = client.get("/exports").get_data(as_text=True)
    assert "Preview" in page and "Download" in page and "Factual error" in page


@pytest.fixture
def trainer_page(app, client) -> str:
    seed(db.session)
    make_user(Role.TRAINER, "tess")
    login(client, "tess")
    return client.get("/exports").get_data(as_text=True)


def test_preview_shows_counts_per_label_and_split(client, trainer_page) -> None:
    form = {
        "csrf_token": csrf_token(trainer_page),
        "format": "jsonl",
        "categories": ["bias", "privacy"],
        "split": "0.5",
        "part": "",
        "preview": "Preview",
    }
    page = client.post("/exports", data=form).get_data(as_text=True)
    assert '<strong id="preview-rows">2</strong>' in page
    assert "<td>bias</td><td>1</td>" in page and "Train" in page


def test_download_streams_the_file(client, trainer_page) -> None:
    form = {
        "csrf_token": csrf_token(trainer_page),
        "format": "sft",
        "part": "",
        "download": "Download",
    }
    response = client.post("/exports", data=form, buffered=True)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    rows = [json.loads(x) for x in response.get_data(as_text=True).splitlines()]
    assert len(rows) == 3 and set(rows[0]) == {"prompt", "completion"}


def test_bad_split_is_shown_not_downloaded(client, trainer_page) -> None:
    form = {
        "csrf_token": csrf_token(trainer_page),
        "format": "jsonl",
        "split": "1.5",
        "part": "",
        "download": "Download",
    }
    response = client.post("/exports", data=form)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "split: must be between 0 and 1" in response.get_data(as_text=True)


def test_form_needs_csrf(client, trainer_page) -> None:
    response = client.post("/exports", data={"format": "jsonl", "download": "Download"})
    assert response.status_code in (200, 400)
    assert response.mimetype == "text/html"
