"""The console's two languages (Norwegian Bokmål and English) and its times in Europe/Oslo.

A small catalogue of our own rather than Flask-Babel: gettext catalogues must be compiled to ``.mo``
files (a build step ``make run`` would need, or binaries in git) for two languages and some hundred
strings, while a dictionary is read at import and checked by a test (every key in both languages, every
key a template uses is in it). The language is ``?lang=nb|en`` (remembered in a cookie), else the
cookie, else the best match of ``Accept-Language`` (Norwegian of any kind reads Bokmål).
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Request

from engagement import clock
from engagement.console.pages_text import PAGE_MESSAGES

LANGUAGES = ("nb", "en")
DEFAULT = "nb"
COOKIE = "console_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "app.name": {"nb": "MoBa ung voksen · konsoll", "en": "MoBa young adult · console"},
    "skip": {"nb": "Hopp til innholdet", "en": "Skip to content"},
    "nav.label": {"nb": "Hovedmeny", "en": "Main menu"},
    "nav.overview": {"nb": "Oversikt", "en": "Overview"},
    "nav.waves": {"nb": "Bølger", "en": "Waves"},
    "nav.questionnaires": {"nb": "Spørreskjema", "en": "Questionnaires"},
    "nav.consent": {"nb": "Samtykke", "en": "Consent"},
    "nav.roster": {"nb": "Deltakerliste", "en": "Roster"},
    "nav.reminders": {"nb": "Påminnelser", "en": "Reminders"},
    "nav.projects": {"nb": "Prosjekter", "en": "Projects"},
    "nav.variables": {"nb": "Variabler", "en": "Variables"},
    "nav.audit": {"nb": "Revisjonslogg", "en": "Audit log"},
    "lang.label": {"nb": "Språk", "en": "Language"},
    "lang.switch": {"nb": "English", "en": "Norsk (bokmål)"},
    "account.signed_in_as": {"nb": "Logget inn som", "en": "Signed in as"},
    "account.roles": {"nb": "Roller", "en": "Roles"},
    "account.logout": {"nb": "Logg ut", "en": "Log out"},
    "account.logout_everywhere": {
        "nb": "Avslutt alle mine økter",
        "en": "End all my sessions",
    },
    "login.title": {"nb": "Logg inn", "en": "Sign in"},
    "login.intro": {
        "nb": "Konsollet er for koordinatorer, forskere og administratorer i MoBa. "
        "Du logger inn med jobbkontoen din.",
        "en": "The console is for MoBa's coordinators, researchers and admins. "
        "You sign in with your work account.",
    },
    "login.button": {"nb": "Logg inn med jobbkonto", "en": "Sign in with work account"},
    "login.ended": {"nb": "Du er logget ut.", "en": "You have signed out."},
    "login.failed": {
        "nb": "Innloggingen ble ikke fullført ({reason}). Prøv igjen, eller kontakt en administrator.",
        "en": "The sign-in was not completed ({reason}). Try again, or ask an admin.",
    },
    "role.coordinator": {"nb": "koordinator", "en": "coordinator"},
    "role.researcher": {"nb": "forsker", "en": "researcher"},
    "role.admin": {"nb": "administrator", "en": "admin"},
    "overview.title": {"nb": "Oversikt", "en": "Overview"},
    "overview.researcher": {
        "nb": "Som forsker finner du prosjektene dine under Prosjekter.",
        "en": "As a researcher, you find your projects under Projects.",
    },
    "overview.roster": {"nb": "Deltakere", "en": "Participants"},
    "overview.roster_size": {"nb": "På deltakerlisten", "en": "On the roster"},
    "overview.turned_18_month": {"nb": "Fylt 18 denne måneden", "en": "Turned 18 this month"},
    "overview.turned_18_quarter": {"nb": "Fylt 18 dette kvartalet", "en": "Turned 18 this quarter"},
    "overview.turned_18_ever": {"nb": "Fylt 18 i alt", "en": "Turned 18, all told"},
    "overview.logged_in": {"nb": "Har logget inn", "en": "Have logged in"},
    "overview.logged_in_recently": {"nb": "{n} de siste 30 dagene", "en": "{n} in the last 30 days"},
    "overview.deletion_requests": {"nb": "Åpne slettebegjæringer", "en": "Open deletion requests"},
    "overview.consent": {"nb": "Samtykke", "en": "Consent"},
    "overview.consent_caption": {
        "nb": "Siste beslutning per formål (gjeldende samtykkeskriv)",
        "en": "Latest decision per purpose (current consent document)",
    },
    "overview.purpose": {"nb": "Formål", "en": "Purpose"},
    "overview.yes": {"nb": "Ja", "en": "Yes"},
    "overview.no": {"nb": "Nei", "en": "No"},
    "overview.undecided": {"nb": "Ikke bestemt", "en": "Not decided"},
    "overview.withdrawals": {"nb": "Tilbaketrekninger etter omfang", "en": "Withdrawals by scope"},
    "overview.scope": {"nb": "Omfang", "en": "Scope"},
    "overview.participants": {"nb": "Deltakere", "en": "Participants"},
    "overview.running_waves": {"nb": "Pågående bølger", "en": "Running waves"},
    "overview.no_running_waves": {
        "nb": "Ingen bølger pågår nå. Opprett en bølge og start den for å sende ut et spørreskjema.",
        "en": "No wave is running. Create a wave and launch it to send out a questionnaire.",
    },
    "overview.reminders": {"nb": "Påminnelser siste 7 dager", "en": "Reminders, last 7 days"},
    "overview.reminders_sent": {"nb": "Sendt", "en": "Sent"},
    "overview.reminders_failed": {"nb": "Feilet", "en": "Failed"},
    "overview.reminders_opened": {"nb": "Åpnet", "en": "Opened"},
    "overview.worker_seen": {"nb": "Påminnelsestjenesten sist sett", "en": "Reminder worker last seen"},
    "overview.worker_seen_note": {
        "nb": "Siste livstegn fra en påminnelsestjeneste, også når den ikke har noe å sende.",
        "en": "The last sign of life of any reminder worker, also when it has nothing to send.",
    },
    "scope.no_contact": {"nb": "Ikke kontakt", "en": "No contact"},
    "scope.no_new_data": {"nb": "Ingen nye data", "en": "No new data"},
    "scope.delete_data": {"nb": "Slett data", "en": "Delete data"},
    "status.draft": {"nb": "utkast", "en": "draft"},
    "status.launched": {"nb": "startet", "en": "launched"},
    "status.closed": {"nb": "avsluttet", "en": "closed"},
    "form.errors": {"nb": "Skjemaet har feil", "en": "The form has errors"},
    "form.choose": {"nb": "Velg …", "en": "Choose …"},
    "form.oslo_time": {"nb": "Norsk tid (Europe/Oslo).", "en": "Norwegian time (Europe/Oslo)."},
    "waves.title": {"nb": "Bølger", "en": "Waves"},
    "waves.new": {"nb": "Ny bølge", "en": "New wave"},
    "waves.create": {"nb": "Opprett bølgen", "en": "Create the wave"},
    "waves.back": {"nb": "Alle bølger", "en": "All waves"},
    "waves.caption": {"nb": "{n} bølger", "en": "{n} waves"},
    "waves.empty": {
        "nb": "Det finnes ingen bølger ennå. Opprett en ny bølge for å sende et spørreskjema til deltakerne.",
        "en": "There are no waves yet. Create a new wave to send a questionnaire to participants.",
    },
    "waves.name": {"nb": "Navn", "en": "Name"},
    "waves.status": {"nb": "Status", "en": "Status"},
    "waves.questionnaire": {"nb": "Spørreskjema (versjon)", "en": "Questionnaire (version)"},
    "waves.opens_at": {"nb": "Åpner", "en": "Opens"},
    "waves.closes_at": {"nb": "Stenger", "en": "Closes"},
    "waves.created_at": {"nb": "Opprettet", "en": "Created"},
    "waves.tasks": {"nb": "Oppgaver", "en": "Tasks"},
    "waves.submitted": {"nb": "Sendt inn", "en": "Submitted"},
    "waves.response_rate": {"nb": "Svarprosent", "en": "Response rate"},
    "waves.eligibility": {"nb": "Hvem bølgen gjelder", "en": "Who the wave is for"},
    "waves.by_age": {"nb": "Etter alder", "en": "By age"},
    "waves.by_turning_18": {"nb": "Fyller 18 i en periode", "en": "Turns 18 in a period"},
    "waves.min_age": {"nb": "Laveste alder", "en": "Lowest age"},
    "waves.max_age": {"nb": "Høyeste alder (valgfritt)", "en": "Highest age (optional)"},
    "waves.age_on": {"nb": "Alder på dato (valgfritt)", "en": "Age on date (optional)"},
    "waves.age_on_hint": {
        "nb": "Tom: alderen på dagen bølgen startes eller fylles på.",
        "en": "Empty: the age on the day the wave is launched or refreshed.",
    },
    "waves.turns_from": {"nb": "Fyller 18 fra og med", "en": "Turns 18 from"},
    "waves.turns_to": {"nb": "Fyller 18 til og med", "en": "Turns 18 until"},
    "waves.purposes": {"nb": "Påkrevde samtykkeformål", "en": "Required consent purposes"},
    "waves.purposes_hint": {
        "nb": "I tillegg til spørreskjemaets eget formål.",
        "en": "Besides the questionnaire's own purpose.",
    },
    "waves.rolling": {"nb": "Rullerende", "en": "Rolling"},
    "waves.rolling_hint": {
        "nb": "Legg til dem som blir aktuelle (fyller 18) til bølgen stenger.",
        "en": "Keep adding those who become eligible (turn 18) until the wave closes.",
    },
    "waves.reminders": {"nb": "Påminnelser", "en": "Reminders"},
    "waves.offsets_days": {"nb": "Dager etter åpning", "en": "Days after opening"},
    "waves.offsets_days_hint": {"nb": "For eksempel 0, 3, 7, 14.", "en": "For example 0, 3, 7, 14."},
    "waves.window_start": {"nb": "Sendevindu fra", "en": "Sending window from"},
    "waves.window_end": {"nb": "Sendevindu til", "en": "Sending window until"},
    "waves.quiet_start": {"nb": "Stille timer fra", "en": "Quiet hours from"},
    "waves.quiet_end": {"nb": "Stille timer til", "en": "Quiet hours until"},
    "waves.max_per_wave": {"nb": "Høyst påminnelser i bølgen", "en": "Most reminders in the wave"},
    "waves.weekly_cap": {"nb": "Høyst påminnelser per uke", "en": "Most reminders per week"},
    "waves.min_gap_hours": {"nb": "Minste avstand (timer)", "en": "Least gap (hours)"},
    "waves.rule_age": {
        "nb": "Alder {min} til {max} på {on}",
        "en": "Aged {min} to {max} on {on}",
    },
    "waves.rule_today": {"nb": "dagen for start", "en": "the day of launch"},
    "waves.rule_turns": {"nb": "Fyller 18 fra {start} til {end}", "en": "Turns 18 from {start} to {end}"},
    "waves.policy_summary": {
        "nb": "Dag {offsets} etter åpning, {start} til {end}; høyst {max} i bølgen, {cap} per uke, {gap} timer mellom",
        "en": "Day {offsets} after opening, {start} to {end}; at most {max} in the wave, {cap} a week, {gap} hours apart",
    },
    "waves.done_launched": {"nb": "Bølgen er startet.", "en": "The wave has been launched."},
    "waves.done_closed": {"nb": "Bølgen er avsluttet.", "en": "The wave has been closed."},
    "preview.title": {"nb": "Forhåndsvisning", "en": "Preview"},
    "preview.count": {"nb": "{n} deltakere er aktuelle nå", "en": "{n} participants are eligible now"},
    "preview.nobody": {
        "nb": "Ingen er aktuelle nå. Endre hvem bølgen gjelder, eller vent til flere har samtykket.",
        "en": "Nobody is eligible now. Change who the wave is for, or wait until more have consented.",
    },
    "preview.by_age": {"nb": "Etter alder i dag", "en": "By age today"},
    "preview.age": {"nb": "Alder", "en": "Age"},
    "preview.by_language": {"nb": "Etter språk", "en": "By language"},
    "preview.language": {"nb": "Språk", "en": "Language"},
    "preview.by_consent": {"nb": "Etter samtykke per formål", "en": "By consent per purpose"},
    "preview.schedule": {
        "nb": "Påminnelsesplan for en deltaker ({who}, {zone}) hvis bølgen startes nå",
        "en": "Reminder schedule of one participant ({who}, {zone}) if the wave is launched now",
    },
    "preview.sequence": {"nb": "Påminnelse nr.", "en": "Reminder no."},
    "preview.send_at": {"nb": "Sendes", "en": "Sent at"},
    "preview.no_reminders": {
        "nb": "Ingen påminnelser før bølgen stenger.",
        "en": "No reminder before the wave closes.",
    },
    "confirm.launch.title": {"nb": "Start bølgen", "en": "Launch the wave"},
    "confirm.launch.body": {
        "nb": "Listen fryses, og {n} deltakere får en oppgave og påminnelser.",
        "en": "The list is frozen, and {n} participants get a task and reminders.",
    },
    "confirm.launch.button": {"nb": "Ja, start bølgen", "en": "Yes, launch the wave"},
    "confirm.close.title": {"nb": "Avslutt bølgen", "en": "Close the wave"},
    "confirm.close.body": {
        "nb": "Åpne oppgaver utløper, og påminnelser som ikke er sendt, avlyses.",
        "en": "Open tasks expire, and reminders not yet sent are cancelled.",
    },
    "confirm.close.button": {"nb": "Ja, avslutt bølgen", "en": "Yes, close the wave"},
    "confirm.irreversible": {"nb": "Dette kan ikke angres.", "en": "This cannot be undone."},
    "confirm.cancel": {"nb": "Avbryt", "en": "Cancel"},
    "stats.title": {"nb": "Statistikk", "en": "Statistics"},
    "stats.daily_title": {"nb": "Per dag", "en": "Per day"},
    "stats.cumulative_title": {"nb": "Samlet svarprosent", "en": "Cumulative response rate"},
    "stats.date": {"nb": "Dato", "en": "Date"},
    "stats.tasks": {"nb": "Oppgaver åpnet", "en": "Tasks opened"},
    "stats.started": {"nb": "Påbegynt", "en": "Started"},
    "stats.submitted": {"nb": "Sendt inn", "en": "Submitted"},
    "stats.reminded": {"nb": "Påminnelse sendt", "en": "Reminder sent"},
    "stats.opened": {"nb": "Påminnelse åpnet", "en": "Reminder opened"},
    "stats.response_rate": {"nb": "Svarprosent", "en": "Response rate"},
    "stats.empty": {
        "nb": "Ingen aktivitet ennå. Tallene kommer når deltakerne får og åpner oppgavene.",
        "en": "No activity yet. The figures come as participants get and open their tasks.",
    },
    "stats.by_reminder": {"nb": "Svar etter antall påminnelser", "en": "Responses by reminder"},
    "stats.reminders_before": {"nb": "Påminnelser før svar", "en": "Reminders before answering"},
    "stats.reminded_with": {"nb": "Fikk påminnelse nr.", "en": "Got reminder no."},
    "stats.submitted_after": {"nb": "Svarte", "en": "Answered"},
    "stats.csv": {"nb": "Last ned dagstallene (CSV)", "en": "Download the daily figures (CSV)"},
    "chart.desc": {
        "nb": "Linjediagram; tallene står i tabellen under.",
        "en": "Line chart; the figures are in the table below.",
    },
    "chart.as_table": {"nb": "som tabell", "en": "as a table"},
    "chart.show_table": {"nb": "Vis tabellen", "en": "Show the table"},
    "chart.hide_table": {"nb": "Skjul tabellen", "en": "Hide the table"},
    "time.zone_note": {
        "nb": "Alle tider er norsk tid (Europe/Oslo).",
        "en": "All times are Norwegian time (Europe/Oslo).",
    },
    "table.empty": {"nb": "Ingen rader.", "en": "No rows."},
    "pager.label": {"nb": "Sider", "en": "Pages"},
    "pager.previous": {"nb": "Forrige", "en": "Previous"},
    "pager.next": {"nb": "Neste", "en": "Next"},
    "pager.position": {"nb": "Side {page} av {pages}", "en": "Page {page} of {pages}"},
    "sort.ascending": {"nb": "sortert stigende", "en": "sorted ascending"},
    "sort.descending": {"nb": "sortert synkende", "en": "sorted descending"},
}

MESSAGES.update(PAGE_MESSAGES)


def pick_language(request: Request) -> tuple[str, bool]:
    """The language of this request, and whether it was asked for with ``?lang`` (to remember it)."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked, True
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    best = request.accept_languages.best_match(["nb", "no", "nn", "en"], default=DEFAULT)
    return ("en" if best == "en" else "nb"), False


def translate(language: str, key: str, **values: object) -> str:
    """The message ``key`` in ``language``; a missing key raises (the catalogue test finds them first)."""
    text = MESSAGES[key][language]
    return text.format(**values) if values else text


def oslo_time(value: datetime | None) -> str:
    """``2026-12-07 14:05 CET``: a moment in Europe/Oslo with its zone."""
    if value is None:
        return "—"
    return value.astimezone(clock.OSLO).strftime("%Y-%m-%d %H:%M %Z")


def oslo_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(clock.OSLO).date()
    return value.isoformat()
