"""``/console/questionnaires``: the catalogue, a preview of a version as a participant meets it, and
the comparison of two versions.

The preview holds no rule of its own: the answers in the form become API answers
(:func:`engagement.questionnaires.answers.answers_from_form`) and the server's own functions say
which items are shown and what is wrong. Without JavaScript the form is sent and the page comes back;
with it, ``console.js`` asks the same URL for the state (``?state=1``, JSON) and shows or hides items.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from engagement.console.web import STAFF, bp, console_page, paginate, render
from engagement.participants.services import today_in_oslo
from engagement.problems import ValidationFailed
from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires import versions as qversions
from engagement.questionnaires.models import QuestionnaireVersion

# query arguments of the preview page that are not answers
_NOT_ANSWERS = frozenset({"lang", "qlang", "check", "state"})
YES_NO = {"nb": ("Ja", "Nei"), "nn": ("Ja", "Nei"), "en": ("Yes", "No")}


@bp.get("/questionnaires")
@console_page(*STAFF)
def questionnaires_list() -> ResponseReturnValue:
    """Every published questionnaire version."""
    columns = {
        "key": QuestionnaireVersion.key,
        "version": QuestionnaireVersion.version,
        "published": QuestionnaireVersion.published_at,
    }
    page = paginate(questionnaires.catalogue_query(), columns, "key")
    return render("console/questionnaires.html", page=page)


@bp.get("/questionnaires/<key>/<int:version>")
@console_page(*STAFF)
def questionnaire_preview(key: str, version: int) -> ResponseReturnValue:
    """A version as a participant meets it, in nb, nn or en, with its conditions and checks."""
    row = questionnaires.get_version(key, version)
    definition = questionnaires.definition_of(row)
    form = {name: request.args.getlist(name) for name in request.args if name not in _NOT_ANSWERS}
    check = request.args.get("check") == "1"
    state = qanswers.preview(definition, form, check=check, today=today_in_oslo())
    if request.args.get("state") == "1":
        return jsonify(enabled=sorted(state.enabled), errors=state.errors)
    language = request.args.get("qlang", "nb")
    if language not in qdef.LANGUAGES:
        language = "nb"
    versions = [v for (k, v) in questionnaires.published_definitions() if k == key]
    return render(
        "console/questionnaire.html",
        row=row,
        definition=qdef.localise(definition, language),
        qlang=language,
        languages=qdef.LANGUAGES,
        form=form,
        state=state,
        yes_no=YES_NO[language],
        special_suffix=qanswers.FORM_SPECIAL_SUFFIX,
        versions=sorted(versions),
        item_errors=_errors_in_order(definition, state.errors),
    )


def _errors_in_order(definition: dict[str, Any], errors: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    order = {item["name"]: i for i, item in enumerate(qdef.iter_items(definition))}
    return sorted(errors.items(), key=lambda pair: order.get(pair[0], len(order)))


@bp.get("/questionnaires/<key>/diff")
@console_page(*STAFF)
def questionnaire_diff(key: str) -> ResponseReturnValue:
    """What ``flask questionnaires diff`` says about two versions, the comparability breaks marked."""
    try:
        old, new = int(request.args.get("from", "")), int(request.args.get("to", ""))
    except ValueError:
        raise ValidationFailed({"from": ["from and to must be version numbers"]}) from None
    before = questionnaires.definition_of(questionnaires.get_version(key, old))
    after = questionnaires.definition_of(questionnaires.get_version(key, new))
    changes = qversions.diff(before, after)
    return render(
        "console/questionnaire_diff.html",
        key=key,
        old=old,
        new=new,
        changes=changes,
        breaking=sum(c.breaks_comparability for c in changes),
    )
