"""The sign-in lock-out holds under parallel guessing: at most FREE_FAILURES guesses are checked."""

import threading
from collections import Counter

import sqlalchemy as sa
from flask import Flask

from models import AuditEvent, Role, User
from review.errors import Unauthorized
from review.extensions import db
from review.services import accounts

from factories import make_user

GUESSES = 24


def test_parallel_wrong_passwords_check_at_most_the_free_guesses(app: Flask) -> None:
    user_id = make_user(Role.REVIEWER, "rita").id
    db.session.commit()  # reading the id began a transaction: SQLite's write lock
    start = threading.Barrier(GUESSES)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def guess(n: int) -> None:
        with app.app_context():
            start.wait(30)
            try:
                accounts.authenticate(db.session, "rita", f"wrong guess {n:04d}")
                outcome = "signed in"
            except Unauthorized as error:
                outcome = str(error)
            db.session.commit()
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    # "invalid username or password" is said only after a password was checked.
    checked = outcomes["invalid username or password"]
    assert checked == accounts.FREE_FAILURES, outcomes
    assert outcomes["too many failed sign-ins; try again in a few minutes"] == GUESSES - checked
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user.failed_logins == accounts.FREE_FAILURES and user.locked_until is not None
    locks = db.session.scalar(
        sa.select(sa.func.count()).where(AuditEvent.action == "user.login_locked")
    )
    assert locks == 1


def test_the_lock_grows_and_a_success_clears_it(app: Flask) -> None:
    from datetime import timedelta

    from models import utcnow

    from factories import PASSWORD

    user = make_user(Role.REVIEWER, "rita")
    now = utcnow()
    for _ in range(accounts.FREE_FAILURES):
        try:
            accounts.authenticate(db.session, "rita", "nope nope nope", now=now)
        except Unauthorized:
            db.session.commit()
    assert user.failed_logins == 5 and user.locked_until == now + accounts.FIRST_LOCK
    # After the lock has passed, the next failure doubles it; then up to the cap.
    waits = []
    for _ in range(6):
        now = user.locked_until
        try:
            accounts.authenticate(db.session, "rita", "nope nope nope", now=now)
        except Unauthorized:
            db.session.commit()
        waits.append(user.locked_until - now)
    assert waits[:4] == [timedelta(seconds=s) for s in (60, 120, 240, 480)]
    assert waits[4:] == [accounts.MAX_LOCK] * 2
    assert accounts.authenticate(db.session, "rita", PASSWORD, now=user.locked_until) is user
    db.session.commit()
    db.session.expire_all()
    assert user.failed_logins == 0 and user.locked_until is None
