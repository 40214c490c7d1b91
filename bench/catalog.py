"""GET /catalog with 20 published questionnaire versions, from a warm process, against /health/ready.

Creates its own database (SQLite in a temporary folder, or ``--database-url``), migrates it, publishes
20 versions (ten questionnaires of two versions each, made from the seed questionnaire), then, in
one process through Flask's test client, times:

* the baseline: ``GET /health/ready`` (one ``SELECT 1`` and a read of the migration version);
* the catalogue: ``GET /catalog`` in Turtle, JSON-LD and RDF/XML (one query for the set of
  published versions, the graph and its serialisation kept from the first request).

Interleaved and repeated; prints the first (cold) request, then the median and 95th percentile of
each and the ratio catalogue / health. Target: a warm ``GET /catalog`` under 50 ms.

    .venv/bin/python bench/catalog.py [--requests 300] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONNAIRES = 10  # x 2 versions = 20


def publish(app: Any) -> int:
    """Ten questionnaires of two versions each, as published rows (copies of the seed questionnaire)."""
    from engagement import versioned
    from engagement.extensions import db
    from engagement.questionnaires import definition as qdef
    from engagement.questionnaires.models import QuestionnaireVersion

    seeds = [
        qdef.load(ROOT / "questionnaires" / "ung18" / f"v{v}.yaml", root=ROOT / "questionnaires")
        for v in (1, 2)
    ]
    with app.app_context():
        for n in range(QUESTIONNAIRES):
            key = f"bench{n:02d}"
            for seed in seeds:
                label = f"{key.upper()}_{'AB'[seed['version'] - 1]}"
                definition = {**seed, "key": key, "version_label": label}
                db.session.add(
                    QuestionnaireVersion(
                        key=key,
                        version=seed["version"],
                        version_label=label,
                        content_hash=versioned.content_hash(definition),
                        definition=definition,
                        consent_purpose=definition["consent_purpose"],
                    )
                )
        db.session.commit()
        return int(db.session.query(QuestionnaireVersion).count())


def timed(client: Any, path: str, headers: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    response = client.get(path, headers=headers or {})
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per endpoint")
    parser.add_argument(
        "--database-url", help="an empty database to use (default: SQLite in a temporary folder)"
    )
    args = parser.parse_args()

    from engagement import create_app, migrate

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.sqlite3"
        app = create_app(
            {
                "ENV": "test",
                "DATABASE_URL": url,
                "DATA_STORE_DIR": folder,
                "LOG_LEVEL": "WARNING",
                "RATE_LIMIT_CATALOG": "1000000/minute",
            }
        )
        with app.app_context():
            migrate.upgrade("head")
        versions = publish(app)
        client = app.test_client()
        formats = {"turtle": "text/turtle", "jsonld": "application/ld+json", "rdfxml": "application/rdf+xml"}
        timed(client, "/health/ready")
        cold = {name: timed(client, "/catalog", {"Accept": media}) for name, media in formats.items()}
        size = {name: len(client.get(f"/catalog?format={name}").get_data()) for name in formats}
        samples: dict[str, list[float]] = {"health": [], **{name: [] for name in formats}}
        for _ in range(args.requests):
            samples["health"].append(timed(client, "/health/ready"))
            for name, media in formats.items():
                samples[name].append(timed(client, "/catalog", {"Accept": media}))
        app.extensions["engagement.db"].dispose()

    def summary(values: list[float]) -> tuple[float, float]:
        ordered = sorted(values)
        return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]

    health, health_p95 = summary(samples["health"])
    print(f"database: {url.split(':', 1)[0]}, {versions} published versions, {args.requests} requests each")
    print(f"GET /health/ready           median {health:7.2f} ms  p95 {health_p95:7.2f} ms  (baseline)")
    for name in formats:
        median, p95 = summary(samples[name])
        print(
            f"GET /catalog ({name:6s})      median {median:7.2f} ms  p95 {p95:7.2f} ms  "
            f"ratio {median / health:5.2f}  cold {cold[name]:8.1f} ms  {size[name] // 1024} KiB"
        )


if __name__ == "__main__":
    main()
