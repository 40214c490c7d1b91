"""``flask questionnaires check|publish|diff``: the definition files in ``questionnaires/``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from engagement.config import PROJECT_ROOT
from engagement.extensions import db
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services
from engagement.questionnaires import versions as qversions

DEFAULT_FOLDER = PROJECT_ROOT / "questionnaires"

cli = AppGroup("questionnaires", help="Questionnaire definition files: check, publish, compare versions.")
folder_option = click.option(
    "--folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_FOLDER,
    show_default=True,
    help="the questionnaires folder",
)


def publish_folder(folder: Path = DEFAULT_FOLDER) -> list[str]:
    """Publish the new versions in ``folder`` and commit; one line per version published (``make run``)."""
    published = services.publish_all(folder)
    db.session.commit()
    return [f"questionnaire {row.key} v{row.version} published" for row in published]


@cli.command("check")
@folder_option
def check(folder: Path) -> None:
    """Check every definition file; print each problem with file, item and reason."""
    result = services.check_all(folder)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if result.problems:
        raise click.ClickException(f"{len(result.problems)} problem(s) found")
    for key, source in sorted(result.sources.items()):
        click.echo(f"ok  {source}  ({key[0]} v{key[1]})")


@cli.command("publish")
@folder_option
def publish(folder: Path) -> None:
    """Publish the versions that are new; refuse a file that differs from its published version."""
    try:
        lines = publish_folder(folder)
    except services.PublishRefused as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("nothing was published") from exc
    for line in lines or ["nothing new to publish"]:
        click.echo(line)


@cli.command("diff")
@click.argument("key")
@click.argument("old", type=int)
@click.argument("new", type=int)
@folder_option
def diff(key: str, old: int, new: int, folder: Path) -> None:
    """List items added, removed and changed from version OLD to NEW, and which break comparability."""
    definitions = {}
    for version in (old, new):
        path = folder / key / f"v{version}.yaml"
        try:
            if path.exists():
                definitions[version] = qdef.load(path, root=folder)
            else:
                definitions[version] = services.get_version(key, version).definition
        except (qdef.DefinitionError, services.QuestionnaireNotFound) as exc:
            raise click.ClickException(str(exc)) from exc
    changes = qversions.diff(definitions[old], definitions[new])
    for change in changes:
        click.echo(str(change))
    breaking = sum(c.breaks_comparability for c in changes)
    click.echo(f"{len(changes)} change(s), {breaking} breaking comparability")
