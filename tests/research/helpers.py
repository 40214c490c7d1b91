"""A small realistic dataset (MoBa 18-year style) for the delivery tests."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement.research.dataset import Dataset, Scale, Variable
from engagement.research.delivery import DeliveryInfo

KEY = "UNG_ID_PDB9999"
YES_NO = {1: "JA", 2: "NEI", -1: "IKKE BESVART", -2: "IKKE AKTUELT"}
SMFQ = {1: "STEMMER IKKE", 2: "STEMMER NOEN GANGER", 3: "STEMMER", -1: "IKKE BESVART"}
SNAPSHOT = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def variables() -> list[Variable]:
    return [
        Variable(KEY, "Prosjektspesifikt løpenummer", role="key"),
        Variable("VERSJON_UNG18_TBL1", "Skjemaversjon", type="string", role="version"),
        Variable("AGE_YRS_XA", "Alder i år ved utfylling", measure="scale", role="derived"),
        Variable(
            "XA24",
            "XA24:UNG18_A; Fullført videregående?; 1. HVERDAG OG UTDANNING",
            value_labels=YES_NO,
            missing_codes=(-1, -2),
            question="Har du fullført videregående skole?",
            versions=("UNG18_A", "UNG18_B"),
            section="Hverdag og utdanning",
            source="moba-ung18|1.0.0#XA24; moba-ung18|1.1.0#XA24",
        ),
        Variable(
            "XA26",
            "XA26:UNG18_A; Med foreldre; Hvem bor du sammen med? (Hvis ja)",
            value_labels={0: "IKKE KRYSSET", 1: "KRYSSET"},
            condition="XA25 = 2",
        ),
        Variable(
            "XA40",
            "Høyde i cm",
            measure="scale",
            value_labels={-3: "VET IKKE HØYDEN MIN"},
            missing_codes=(-3,),
        ),
        Variable("XA46", "Søvn, timer per natt", measure="scale", decimals=1),
        Variable(
            "XA60",
            "XA60:UNG18_A; Jeg var lei meg eller ulykkelig",
            measure="ordinal",
            value_labels=SMFQ,
            missing_codes=(-1,),
            scale=Scale("SMFQ"),
        ),
        Variable(
            "XA61",
            "XA61:UNG18_A; Jeg hadde det bra",
            measure="ordinal",
            value_labels=SMFQ,
            missing_codes=(-1,),
            scale=Scale("SMFQ", reversed=True),
        ),
    ]


COLUMNS = {
    KEY: [1_000_001, 2_147_483_620, 55_555_555, 123_456_789, 1_999_999_999],
    "VERSJON_UNG18_TBL1": ["UNG18_A", "UNG18_A", "UNG18_B", "UNG18_B", "UNG18_A"],
    "AGE_YRS_XA": [18, 19, 18, None, 20],
    "XA24": [1, 2, -1, None, -2],
    "XA26": [1, 0, None, 0, 1],
    "XA40": [172, None, -3, 185, 160],
    "XA46": [7.5, 8.0, None, 6.5, 9.0],
    "XA60": [1, 2, 3, -1, None],
    "XA61": [3, -1, None, 1, 2],
}


def ung18(columns: dict[str, list[object]] | None = None, name: str = "UNG18_v1") -> Dataset:
    return Dataset(
        name,
        variables(),
        columns or COLUMNS,
        primary_key=[KEY],
        version_column="VERSJON_UNG18_TBL1",
        description="MoBa 18 år, versions A and B",
    )


def info(release: str = "R2026-01", **changes: object) -> DeliveryInfo:
    values: dict[str, object] = {
        "project": "PDB9999",
        "release": release,
        "consent_snapshot_at": SNAPSHOT,
        "data_use_codes": ("DUO:0000006", "DUO:0000027", "DUO:0000029"),
        "data_use": {"rek": "REK 123456", "ends": "2030-12-31"},
        "exclusions": {"no_consent": 3, "deleted": 1},
        "created_at": SNAPSHOT,
    }
    values.update(changes)
    return DeliveryInfo(**values)  # type: ignore[arg-type]
