"""The one question, asked everywhere: may this participant's data be used / may they be contacted, now?

Interface fixed by the foundation so that questionnaires, waves, reminders and extracts can call it;
the consent issue gives it its real answer from the decision ledger and the withdrawal state.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from engagement.errors import Forbidden

# Purpose codes of the seed consent document; other domains refer to purposes by these codes.
PARTICIPATION = "participation"
QUESTIONNAIRES = "questionnaires"
REGISTRY_LINKAGE = "registry_linkage"
BIOBANK = "biobank"
RECONTACT = "recontact_substudies"
INTERNATIONAL_SHARING = "international_sharing"


class ConsentRequired(Forbidden):
    slug, title = "consent-required", "A consent decision is needed first"


def may_use_data(participant_id: uuid.UUID, purpose: str, at: datetime) -> bool:
    """Whether the participant's data may be used for ``purpose`` at ``at``.

    Placeholder until the decision ledger exists: answers yes, so that callers can be built against it.
    """
    return True


def may_contact(participant_id: uuid.UUID, at: datetime) -> bool:
    """Whether the participant may be contacted (reminders, messages) at ``at``. Placeholder: yes."""
    return True


def require_data_use(participant_id: uuid.UUID, purpose: str, at: datetime) -> None:
    """Raise :class:`ConsentRequired` unless :func:`may_use_data`."""
    if not may_use_data(participant_id, purpose, at):
        raise ConsentRequired(
            f"Your consent does not cover '{purpose}'. Decide on the current consent first."
        )
