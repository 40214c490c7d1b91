"""Prometheus metrics: request latency by route and status, and the domain counters.

``/metrics`` answers only with ``Authorization: Bearer <ENGAGEMENT_METRICS_TOKEN>``; without a
configured token it does not exist (404). Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` so that
every worker process is counted. A domain adds figures read from the database at each scrape (those
of processes that serve no HTTP, such as the reminder worker) by appending a collector to
``app.extensions[COLLECTORS]``.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from werkzeug.exceptions import NotFound

from engagement.problems import Unauthorized

REQUEST_SECONDS = Histogram(
    "engagement_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SUBMISSIONS = Counter("engagement_submissions_total", "Questionnaire submissions", ["outcome"])
COLLECTORS = "engagement.metrics_collectors"  # app.extensions: collectors the domains add, read per scrape


def _registry() -> CollectorRegistry | None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return None


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "<unmatched>"
            REQUEST_SECONDS.labels(request.method, route, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        token = current_app.config.get("METRICS_TOKEN")
        if not token:
            raise NotFound()
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), str(token).encode()):
            raise Unauthorized("Send the metrics token: Authorization: Bearer <token>.")
        registry = _registry()
        body = generate_latest(registry) if registry is not None else generate_latest()
        domains = CollectorRegistry(auto_describe=False)
        for collector in current_app.extensions.get(COLLECTORS, []):
            domains.register(collector)
        return Response(body + generate_latest(domains), mimetype=CONTENT_TYPE_LATEST.split(";")[0])

    metrics._access = "metrics token"  # type: ignore[attr-defined]
