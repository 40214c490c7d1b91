"""Retention: expired login transactions and codes, and sessions ended long ago with their refresh
tokens, are purged (``flask maintenance purge``, the reminder worker); live ones stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.auth import retention, sessions
from engagement.auth.cli import cli as maintenance_cli
from engagement.auth.models import AppAuthorizationCode, LoginTransaction, RefreshToken, SessionFamily
from engagement.extensions import db

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _login(expires_at):
    db.session.add(
        LoginTransaction(
            state_hash=uuid.uuid4().hex,
            browser_hash=uuid.uuid4().hex,
            kind="participant",
            client_id="moba-app",
            redirect_uri="no.moba.engagement:/oauth/callback",
            client_state="s",
            code_challenge="c" * 43,
            nonce=uuid.uuid4().hex,
            code_verifier="v" * 43,
            expires_at=expires_at,
        )
    )


def _session(participant, opened_at, *, revoked_at=None):
    with clock.frozen(opened_at):
        family = sessions.open_session(
            kind="participant",
            client_id="moba-app",
            participant_id=participant.id,
            upstream_issuer="https://test-idporten.invalid",
            upstream_sid=uuid.uuid4().hex,
        )
    family.revoked_at = revoked_at
    db.session.add(
        AppAuthorizationCode(
            code_hash=uuid.uuid4().hex,
            family_id=family.id,
            client_id="moba-app",
            redirect_uri="no.moba.engagement:/oauth/callback",
            code_challenge="c" * 43,
            expires_at=opened_at + timedelta(seconds=60),
            created_at=opened_at,
        )
    )
    first = RefreshToken(
        family_id=family.id,
        token_hash=uuid.uuid4().hex,
        idle_expires_at=opened_at + timedelta(minutes=30),
        used_at=opened_at + timedelta(minutes=5),
        created_at=opened_at,
    )
    db.session.add(first)
    db.session.flush()
    db.session.add(
        RefreshToken(
            family_id=family.id,
            token_hash=uuid.uuid4().hex,
            parent_id=first.id,
            idle_expires_at=opened_at + timedelta(minutes=35),
            created_at=opened_at + timedelta(minutes=5),
        )
    )
    db.session.flush()
    return family.id


@pytest.fixture
def login_state(app, make_participant):
    """Rows of every kind, some past their retention at NOW and some not."""
    participant = make_participant()
    with app.app_context():
        _login(NOW - timedelta(days=3))  # expired long ago: goes
        _login(NOW - timedelta(hours=2))  # expired, but within a day: stays
        _login(NOW + timedelta(minutes=5))  # in progress: stays
        gone = [
            _session(participant, NOW - timedelta(days=40)),  # past its absolute end for > 30 days
            _session(participant, NOW - timedelta(days=35), revoked_at=NOW - timedelta(days=34)),
        ]
        kept = [
            _session(participant, NOW - timedelta(hours=1)),  # live
            _session(participant, NOW - timedelta(days=5), revoked_at=NOW - timedelta(days=5)),  # recent
            _session(participant, NOW - timedelta(days=29, hours=13)),  # ended 29 days ago
        ]
        db.session.commit()
    return gone, kept


def _counts(app):
    with app.app_context():
        return {
            model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (LoginTransaction, AppAuthorizationCode, RefreshToken, SessionFamily)
        }


def _families(app):
    with app.app_context():
        return set(db.session.scalars(sa.select(SessionFamily.id)))


def test_purge_deletes_what_is_past_its_period_and_keeps_the_rest(app, login_state):
    gone, kept = login_state
    before = _counts(app)
    with app.app_context():
        purged = retention.purge(NOW)
        db.session.commit()
    assert (purged.login_transactions, purged.sessions, purged.refresh_tokens) == (1, 2, 4)
    assert purged.authorization_codes == 4  # of the two ended sessions, and two expired over a day ago
    after = _counts(app)
    assert after["login_transaction"] == before["login_transaction"] - 1
    assert after["refresh_token"] == before["refresh_token"] - 4
    assert after["app_authorization_code"] == before["app_authorization_code"] - 4
    families = _families(app)
    assert not set(gone) & families and set(kept) <= families
    with app.app_context():  # the live session still works
        assert db.session.get(SessionFamily, kept[0]).revoked_at is None
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(RefreshToken).where(RefreshToken.family_id == kept[0])
            )
            == 2
        )


def test_purge_is_idempotent(app, login_state):
    with app.app_context():
        retention.purge(NOW)
        again = retention.purge(NOW)
        db.session.commit()
    assert again.total == 0


def test_flask_maintenance_purge_applies_the_periods(app, login_state):
    gone, kept = login_state
    with clock.frozen(NOW):
        result = app.test_cli_runner().invoke(maintenance_cli, ["purge"])
    assert result.exit_code == 0, result.output
    assert "purged login transactions 1, authorization codes 4, refresh tokens 4, sessions 2" in result.output
    assert not set(gone) & _families(app) and set(kept) <= _families(app)


def test_the_reminder_worker_purges(app, login_state):
    from notifications.sender import LogSender
    from notifications.worker import Worker

    gone, kept = login_state
    with clock.frozen(NOW):
        purged = Worker(app, LogSender()).purge()
    assert purged.sessions == 2
    assert not set(gone) & _families(app) and set(kept) <= _families(app)
