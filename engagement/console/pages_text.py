"""The messages of the console's pages beyond the overview and waves (questionnaires, consent, roster,
reminders, projects, audit), in Bokmål and English; :mod:`engagement.console.i18n` adds them to its
catalogue, whose test checks both languages and every key a template uses."""

from __future__ import annotations

PAGE_MESSAGES: dict[str, dict[str, str]] = {
    # questionnaires
    "q.title": {"nb": "Spørreskjema", "en": "Questionnaires"},
    "q.empty": {
        "nb": "Ingen spørreskjema er publisert ennå. Publiser med «flask questionnaires publish».",
        "en": "No questionnaire is published yet. Publish with “flask questionnaires publish”.",
    },
    "q.caption": {"nb": "Publiserte versjoner ({total})", "en": "Published versions ({total})"},
    "q.key": {"nb": "Nøkkel", "en": "Key"},
    "q.version": {"nb": "Versjon", "en": "Version"},
    "q.label": {"nb": "Versjonsnavn", "en": "Version label"},
    "q.purpose": {"nb": "Samtykkeformål", "en": "Consent purpose"},
    "q.published": {"nb": "Publisert", "en": "Published"},
    "q.compare": {"nb": "Sammenlign", "en": "Compare"},
    "q.preview_of": {"nb": "Forhåndsvis {name} v{version}", "en": "Preview {name} v{version}"},
    "q.diff_link": {"nb": "v{old} → v{new}", "en": "v{old} → v{new}"},
    "q.preview_title": {"nb": "{name} versjon {version}", "en": "{name} version {version}"},
    "q.preview_intro": {
        "nb": "Slik møter deltakeren skjemaet. Svar for å se vilkårene slå spørsmål av og på; "
        "«Sjekk som ved innsending» viser meldingene serveren ville gitt. Ingenting lagres.",
        "en": "The questionnaire as a participant meets it. Answer to see conditions turn items on and "
        "off; “Check as on submission” shows the messages the server would give. Nothing is saved.",
    },
    "q.languages": {"nb": "Skjemaets språk", "en": "Questionnaire language"},
    "q.lang.nb": {"nb": "Bokmål", "en": "Bokmål"},
    "q.lang.nn": {"nb": "Nynorsk", "en": "Nynorsk"},
    "q.lang.en": {"nb": "Engelsk", "en": "English"},
    "q.check_failed": {
        "nb": "Serveren ville avvist svarene ({count} spørsmål)",
        "en": "The server would refuse these answers ({count} items)",
    },
    "q.check_passed": {
        "nb": "Serveren ville godtatt disse svarene.",
        "en": "The server would accept these answers.",
    },
    "q.required": {"nb": "må besvares", "en": "required"},
    "q.hint_range": {"nb": "Fra {min} til {max}", "en": "From {min} to {max}"},
    "q.special": {"nb": "Eller et spesialsvar", "en": "Or a special answer"},
    "q.update": {"nb": "Oppdater visningen", "en": "Update the view"},
    "q.check": {"nb": "Sjekk som ved innsending", "en": "Check as on submission"},
    "q.reset": {"nb": "Begynn på nytt", "en": "Start again"},
    "q.diff_title": {"nb": "{name}: v{old} mot v{new}", "en": "{name}: v{old} against v{new}"},
    "q.diff_summary": {
        "nb": "{changes} endring(er), {breaking} bryter sammenlignbarheten.",
        "en": "{changes} change(s), {breaking} breaking comparability.",
    },
    "q.diff_none": {"nb": "Ingen endringer i spørsmålene.", "en": "No change to the items."},
    "q.diff_caption": {"nb": "Spørsmål som er endret", "en": "Items that changed"},
    "q.item": {"nb": "Spørsmål", "en": "Item"},
    "q.change": {"nb": "Endring", "en": "Change"},
    "q.change.added": {"nb": "lagt til", "en": "added"},
    "q.change.removed": {"nb": "fjernet", "en": "removed"},
    "q.change.changed": {"nb": "endret", "en": "changed"},
    "q.fields": {"nb": "Felt", "en": "Fields"},
    "q.comparability": {"nb": "Sammenlignbarhet", "en": "Comparability"},
    "q.note": {"nb": "Merknad", "en": "Note"},
    "q.breaks": {"nb": "Bryter", "en": "Breaks"},
    "q.comparable": {"nb": "Sammenlignbar", "en": "Comparable"},
    "q.diff_cli": {
        "nb": "Som «flask questionnaires diff» skriver det",
        "en": "As “flask questionnaires diff” prints it",
    },
    # roster
    "roster.title": {"nb": "Deltakerliste", "en": "Roster"},
    "roster.upload": {"nb": "Last opp en deltakerliste", "en": "Upload a roster"},
    "roster.hint": {
        "nb": "CSV (komma eller semikolon) eller JSON med kolonnene cohort_person_id, fodselsnummer, "
        "birth_date (ÅÅÅÅ-MM-DD) og language (nb, nn, en). Først vises hva som ville skjedd; ingenting "
        "endres før du bekrefter.",
        "en": "CSV (comma or semicolon) or JSON with the columns cohort_person_id, fodselsnummer, "
        "birth_date (YYYY-MM-DD) and language (nb, nn, en). You first see what would happen; nothing "
        "changes until you confirm.",
    },
    "roster.file": {"nb": "Fil", "en": "File"},
    "roster.check": {"nb": "Prøvekjør", "en": "Dry run"},
    "roster.no_file": {"nb": "Velg en fil å laste opp.", "en": "Choose a file to upload."},
    "roster.gone": {
        "nb": "Prøvekjøringen finnes ikke lenger (eller er ikke din). Last opp filen på nytt.",
        "en": "The dry run is gone (or not yours). Upload the file again.",
    },
    "roster.dry_run": {"nb": "Prøvekjøring", "en": "Dry run"},
    "roster.counts": {
        "nb": "{create} nye, {update} endres, {unchanged} uendret, {refuse} avvist.",
        "en": "{create} new, {update} to update, {unchanged} unchanged, {refuse} refused.",
    },
    "roster.refused": {
        "nb": "{count} linje(r) ville blitt avvist. Ingenting importeres før filen er rettet; "
        "rett linjene under og last opp på nytt.",
        "en": "{count} line(s) would be refused. Nothing is imported until the file is fixed; "
        "fix the lines below and upload again.",
    },
    "roster.lines_caption": {"nb": "Linje for linje", "en": "Line by line"},
    "roster.line": {"nb": "Linje", "en": "Line"},
    "roster.outcome": {"nb": "Utfall", "en": "Outcome"},
    "roster.outcome.create": {"nb": "opprettes", "en": "would create"},
    "roster.outcome.update": {"nb": "oppdateres", "en": "would update"},
    "roster.outcome.unchanged": {"nb": "uendret", "en": "unchanged"},
    "roster.outcome.refuse": {"nb": "avvises", "en": "would refuse"},
    "roster.number": {"nb": "Fødselsnummer", "en": "Fødselsnummer"},
    "roster.masked": {"nb": "maskert:", "en": "masked:"},
    "roster.why": {"nb": "Hvorfor", "en": "Why"},
    "roster.confirm_title": {"nb": "Importer deltakerlisten?", "en": "Import the roster?"},
    "roster.confirm_text": {
        "nb": "{create} deltakere opprettes og {update} oppdateres. Dette kan ikke angres her.",
        "en": "{create} participants will be created and {update} updated. This cannot be undone here.",
    },
    "roster.apply": {"nb": "Ja, importer", "en": "Yes, import"},
    "roster.cancel": {"nb": "Avbryt", "en": "Cancel"},
    "roster.applied": {"nb": "Deltakerlisten er importert", "en": "The roster is imported"},
    "roster.applied_counts": {
        "nb": "{created} opprettet, {updated} oppdatert, {unchanged} uendret.",
        "en": "{created} created, {updated} updated, {unchanged} unchanged.",
    },
    # forms
    "form.has_errors": {
        "nb": "Skjemaet har feil; se meldingene ved feltene.",
        "en": "The form has errors; see the messages by the fields.",
    },
    # projects
    "projects.title": {"nb": "Forskningsprosjekter", "en": "Research projects"},
    "projects.empty": {
        "nb": "Du er ikke med i noe prosjekt ennå. Be en administrator legge deg til.",
        "en": "You are not a member of any project yet. Ask an admin to add you.",
    },
    "projects.empty_admin": {
        "nb": "Ingen prosjekter ennå. Registrer et godkjent prosjekt med skjemaet under.",
        "en": "No projects yet. Register an approved project with the form below.",
    },
    "projects.caption": {"nb": "Prosjekter ({count})", "en": "Projects ({count})"},
    "projects.code": {"nb": "Kode", "en": "Code"},
    "projects.name": {"nb": "Tittel", "en": "Title"},
    "projects.approval": {"nb": "Godkjenning (REK)", "en": "Approval (REK)"},
    "projects.purposes": {"nb": "Samtykkeformål", "en": "Consent purposes"},
    "projects.new": {"nb": "Registrer et godkjent prosjekt", "en": "Register an approved project"},
    "projects.field.code": {"nb": "Prosjektkode (f.eks. PDB9999)", "en": "Project code (e.g. PDB9999)"},
    "projects.field.title": {"nb": "Tittel", "en": "Title"},
    "projects.field.approval_reference": {
        "nb": "Godkjenning (f.eks. REK 2026/12345)",
        "en": "Approval (e.g. REK 2026/12345)",
    },
    "projects.field.folder": {
        "nb": "Mappe i forskningslageret (tom: prosjektkoden)",
        "en": "Folder in the research data store (empty: the project code)",
    },
    "projects.field.data_use_codes": {
        "nb": "DUO-koder, kommaseparert",
        "en": "DUO codes, comma-separated",
    },
    "projects.field.purposes": {"nb": "Samtykkeformål", "en": "Consent purposes"},
    "projects.field.questionnaires": {"nb": "Spørreskjema", "en": "Questionnaires"},
    "projects.field.members": {"nb": "Forskere", "en": "Researchers"},
    "projects.no_researchers": {
        "nb": "Ingen ansatte har forskerrollen ennå.",
        "en": "No staff user has the researcher role yet.",
    },
    "projects.create": {"nb": "Registrer prosjektet", "en": "Register the project"},
    "projects.members": {"nb": "Forskere i prosjektet", "en": "The project's researchers"},
    "projects.no_members": {
        "nb": "Ingen forskere ennå; en administrator kan legge dem til.",
        "en": "No researchers yet; an admin can add them.",
    },
    "projects.add_member": {"nb": "Legg til en forsker", "en": "Add a researcher"},
    "projects.add": {"nb": "Legg til", "en": "Add"},
    "projects.releases": {"nb": "Leveranser", "en": "Releases"},
    "projects.no_releases": {
        "nb": "Ingen leveranser ennå. En administrator eller koordinator kan bestille et uttrekk.",
        "en": "No releases yet. An admin or coordinator can request an extract.",
    },
    "extract.request": {"nb": "Bestill et uttrekk", "en": "Request an extract"},
    "extract.kind": {"nb": "Hva skal leveres", "en": "What to deliver"},
    "extract.full": {"nb": "Alt", "en": "Everything"},
    "extract.since_last": {"nb": "Det som er nytt siden forrige", "en": "What is new since the last one"},
    "extract.confirm": {
        "nb": "Jeg bekrefter at uttrekket skal leveres til prosjektets mappe (kan ikke trekkes tilbake).",
        "en": "I confirm the extract is to be delivered to the project's folder (it cannot be taken back).",
    },
    "extract.confirm_first": {"nb": "Kryss av for å bekrefte først.", "en": "Tick the box to confirm first."},
    "extract.run": {"nb": "Lever uttrekket", "en": "Deliver the extract"},
    "release.rows": {"nb": "Rader", "en": "Rows"},
    "release.participants": {"nb": "Deltakere", "en": "Participants"},
    "release.deletions": {"nb": "Til sletting", "en": "To delete"},
    "release.snapshot": {"nb": "Samtykke per", "en": "Consent as of"},
    "release.codebook": {"nb": "Kodebok for {release}", "en": "Codebook of {release}"},
    "release.files": {"nb": "Filer i {release}", "en": "Files in {release}"},
    "release.file": {"nb": "Fil", "en": "File"},
    "release.bytes": {"nb": "Byte", "en": "Bytes"},
    "release.download_members": {
        "nb": "Bare prosjektets forskere kan laste ned filene.",
        "en": "Only the project's researchers can download the files.",
    },
    "codebook.title": {"nb": "Kodebok, {release}", "en": "Codebook, {release}"},
    "codebook.search": {"nb": "Søk etter variabel", "en": "Search for a variable"},
    "codebook.search_hint": {
        "nb": "I navn, etikett, datasett og kilde.",
        "en": "In name, label, dataset and source.",
    },
    "codebook.find": {"nb": "Søk", "en": "Search"},
    "codebook.found": {"nb": "{found} av {total} variabler", "en": "{found} of {total} variables"},
    "codebook.caption": {"nb": "Variabler", "en": "Variables"},
    "codebook.variable": {"nb": "Variabel", "en": "Variable"},
    "codebook.label": {"nb": "Etikett", "en": "Label"},
    "codebook.type": {"nb": "Type", "en": "Type"},
    "codebook.value_labels": {"nb": "Verdietiketter", "en": "Value labels"},
    "codebook.missing": {"nb": "Manglende-koder", "en": "Missing codes"},
    "codebook.source": {"nb": "Kilde (spørsmål og versjon)", "en": "Source (item and version)"},
    "codebook.versions": {"nb": "Versjoner", "en": "Versions"},
    "codebook.none": {
        "nb": "Ingen variabler passer søket. Prøv et kortere ord.",
        "en": "No variable matches the search. Try a shorter word.",
    },
}
