"""Development only: the ID-porten stand-in, demo data and ``flask dev up``. Refused outside development."""

from __future__ import annotations

from flask import Flask

from engagement import clock
from engagement.extensions import db


class DevelopmentOnly(RuntimeError):
    pass


def ensure_development(app: Flask) -> None:
    if app.config["ENV"] not in ("development", "test"):
        raise DevelopmentOnly("development tools are refused unless ENGAGEMENT_ENV=development")


def init_app(app: Flask) -> None:
    """Serve the development stand-ins (``ENGAGEMENT_DEV_IDPORTEN``) at ``/dev/idporten`` and ``/dev/staff``;
    never in production. The backend is their client unless real issuers are configured."""
    ensure_development(app)
    from engagement.dev.identities import DEMO_STAFF, demo_persons
    from engagement.dev.provider import StandInClient, StandInProvider

    base = app.config["PUBLIC_URL"].rstrip("/")
    idporten = StandInProvider(
        kind="idporten",
        people={p.login_hint: p for p in demo_persons(clock.now().date())},
        clients={
            "engagement-idporten": StandInClient(
                "engagement-idporten",
                (f"{base}/auth/idporten/callback",),
                secret="dev-secret-idporten",  # noqa: S106 (development stand-in)
            )
        },
    )
    staff = StandInProvider(
        kind="staff",
        people={s.login_hint: s for s in DEMO_STAFF},
        clients={
            "engagement-staff": StandInClient(
                "engagement-staff",
                (f"{base}/auth/staff/callback",),
                secret="dev-secret-staff",  # noqa: S106 (development stand-in)
            )
        },
    )
    app.register_blueprint(idporten.blueprint("dev_idporten", "/dev/idporten"))
    app.register_blueprint(staff.blueprint("dev_staff", "/dev/staff"))
    db.never_writes("dev_idporten")  # an upstream provider of its own: no share in this database
    db.never_writes("dev_staff")
    app.extensions["engagement.dev_providers"] = {"idporten": idporten, "staff": staff}
    app.extensions["engagement.dev_banner"] = banner(base)


def banner(base: str) -> list[str]:
    """How to log in as a demo participant or staff user, printed by ``flask dev up``."""
    from engagement.dev.identities import DEMO_STAFF, demo_persons

    challenge = "vomDwyob7MToPgKyyNkTwJgElzUODiqpVAmAnTjS0fU"  # S256 of the verifier below
    verifier = "dBjftJeZ4CVP-mJ92K1ZDdXXQdhhN9u1Qcx1Nv8fy2N2Qr6Bd5cT4Mt7iJn9xYzq"
    authorize = (
        f"{base}/auth/app/authorize?client_id=moba-app&redirect_uri=http://127.0.0.1/callback"
        f"&response_type=code&code_challenge={challenge}&code_challenge_method=S256&state=demo"
    )
    people = ", ".join(f"{p.login_hint} ({p.note})" for p in demo_persons(clock.now().date()))
    staff = ", ".join(f"{s.login_hint} ({'/'.join(s.roles)})" for s in DEMO_STAFF)
    hop = "curl -s -o /dev/null -w '%{redirect_url}' -c jar -b jar"
    return [
        "Log in as a demo participant (development ID-porten stand-in; synthetic people only):",
        f"  in a browser: {authorize}",
        f"    pick a person: {people};",
        "    the browser then fails to open http://127.0.0.1/callback?code=CODE: copy CODE from the address bar.",
        "  or with curl (PERSON=ola):",
        f"    A=$({hop} '{authorize}')",
        f'    B=$({hop} "$A&login_hint=ola"); C=$({hop} "$B"); CODE=${{C##*code=}}; CODE=${{CODE%%&*}}',
        "  then trade the code and call the API:",
        f"    curl -s {base}/auth/app/token -d grant_type=authorization_code -d client_id=moba-app \\",
        f'         -d redirect_uri=http://127.0.0.1/callback -d code_verifier={verifier} -d code="$CODE"',
        f"    curl -s {base}/v1/me -H 'Authorization: Bearer ACCESS_TOKEN'",
        f"Staff: the same with client_id=moba-staff-cli (login_hint: {staff}).",
    ]
