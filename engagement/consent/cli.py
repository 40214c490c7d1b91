"""``flask consent publish``: load the consent document files into immutable published versions;
``flask consent rebuild-latest``: write each participant's latest submission again from the ledger."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from engagement.consent import documents, ledger
from engagement.extensions import db

cli = AppGroup("consent", help="Consent documents.")


def publish_consent_documents(directory: Path | None = None) -> list[str]:
    """Publish the consent files and commit; one line per version (used by ``flask dev up`` too)."""
    results = documents.publish_documents(directory)
    db.session.commit()
    return [f"consent {r.key} v{r.version}: {r.status}" for r in results]


@cli.command("publish")
@click.argument(
    "directory",
    required=False,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
def publish(directory: Path | None) -> None:
    """Publish every consent document version under DIRECTORY (default: questionnaires/consent)."""
    try:
        lines = publish_consent_documents(directory)
    except documents.ConsentDocumentInvalid as exc:
        raise click.ClickException(exc.detail) from exc
    except documents.ConsentDocumentChanged as exc:
        raise click.ClickException(exc.detail) from exc
    for line in lines:
        click.echo(line)


@cli.command("rebuild-latest")
def rebuild_latest() -> None:
    """Write each participant's latest submission (the table the roster's counts read) again from the
    ledger: after ledger rows came in another way than a submission, such as a restore or an import."""
    rows = ledger.rebuild_latest()
    db.session.commit()
    click.echo(f"consent_latest: {rows} participants")
