"""Prometheus metrics: what `/metrics` shows, recorded from score results by the routes.

With several workers (`riskscore serve --workers N`) each worker writes its samples to files in
`PROMETHEUS_MULTIPROC_DIR` and `/metrics` merges them, so any worker answers for all.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from cases.queue import QueueHealth
from record.lag import RecordingLag
from scoring.results import ScoreResult
from webhooks.deliveries import QueueDepth

LATENCY_BUCKETS = (0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 1)
# Time from a case's opening to its resolution: 10 minutes to 2 weeks.
RESOLUTION_BUCKETS = (600, 1_800, 3_600, 14_400, 28_800, 86_400, 259_200, 604_800, 1_209_600)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class WebhookMetrics:
    """What the delivery worker reports (a `webhooks.worker.DeliveryObserver`), and the
    queue as measured at each scrape."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "riskscore_webhook_attempts_total",
            "Delivery attempts, by result (ok: a 2xx; failed: anything else).",
            ["result"],
            registry=registry,
        )
        self.attempt_duration = Histogram(
            "riskscore_webhook_attempt_duration_seconds",
            "Time of one delivery attempt (the POST, redirects included).",
            buckets=WEBHOOK_BUCKETS,
            registry=registry,
        )
        self.deliveries = Counter(
            "riskscore_webhook_deliveries_total",
            "Deliveries finished, by outcome (delivered, or dead: dead-lettered after the bound).",
            ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "riskscore_webhook_delivery_latency_seconds",
            "From an event's commit to its delivery's 2xx (retries included).",
            buckets=WEBHOOK_BUCKETS,
            registry=registry,
        )
        self.queue = {
            name: Gauge(
                f"riskscore_webhook_{name}",
                text,
                multiprocess_mode="livemax",
                registry=registry,
            )
            for name, text in (
                ("pending_deliveries", "Deliveries waiting to be sent or retried."),
                ("dead_deliveries", "Dead-lettered deliveries (replay puts them back)."),
                ("oldest_pending_seconds", "Age of the oldest pending delivery's event."),
            )
        }

    def attempted(self, ok: bool, seconds: float) -> None:
        self.attempts.labels("ok" if ok else "failed").inc()
        self.attempt_duration.observe(seconds)

    def finished(self, status: str, latency_seconds: float) -> None:
        self.deliveries.labels(status).inc()
        if status == "delivered":
            self.latency.observe(latency_seconds)

    def observe_queue(self, depth: QueueDepth) -> None:
        self.queue["pending_deliveries"].set(depth.pending)
        self.queue["dead_deliveries"].set(depth.dead)
        self.queue["oldest_pending_seconds"].set(depth.oldest_pending_seconds or 0.0)


class Metrics:
    """The service's metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._serving: dict[int, str] = {}
        r = self.registry
        self.latency = Histogram(
            "riskscore_request_duration_seconds",
            "Time to answer a request, by route and status.",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "riskscore_decisions_total",
            "Decisions by outcome.",
            ["decision", "degraded"],
            registry=r,
        )
        self.replays = Counter(
            "riskscore_replays_total", "Retries answered with the stored decision.", registry=r
        )
        self.rule_matches = Counter(
            "riskscore_rule_matches_total",
            "Rule matches by rule id and mode (active or shadow).",
            ["rule_id", "mode"],
            registry=r,
        )
        self.scores = Histogram(
            "riskscore_score", "Fraud scores given.", buckets=SCORE_BUCKETS, registry=r
        )
        self.feature_store_errors = Counter(
            "riskscore_feature_store_errors_total",
            "Feature store calls that failed, by kind (timeout or unavailable).",
            ["kind"],
            registry=r,
        )
        self.decision_store_errors = Counter(
            "riskscore_decision_store_errors_total",
            "Decisions that could not be stored.",
            registry=r,
        )
        self.records_dropped = Counter(
            "riskscore_records_dropped_total",
            "Decision records lost: the stream could not take them and the spool was full.",
            registry=r,
        )
        # Measured at each scrape by the worker that answers it (the stream is shared; the
        # spool folder is too): the largest live value is the current one.
        self.recording = {
            name: Gauge(
                f"riskscore_recording_{name}",
                text,
                multiprocess_mode="livemax",
                registry=r,
            )
            for name, text in (
                ("oldest_unrecorded_seconds", "Age of the oldest record not yet in PostgreSQL."),
                ("stream_entries", "Entries in the record stream (recorded ones not trimmed)."),
                ("unrecorded_entries", "Records in the stream not yet in PostgreSQL."),
                ("spool_bytes", "Bytes of records in the spool, waiting for Redis."),
            )
        }
        self.webhooks = WebhookMetrics(r)
        self.model_info = Gauge(
            "riskscore_model_info",
            "The model version being served (value 1).",
            ["version"],
            multiprocess_mode="liveall",
            registry=r,
        )
        self.policy_info = Gauge(
            "riskscore_policy_info",
            "The policy version being served (value 1).",
            ["version"],
            multiprocess_mode="liveall",
            registry=r,
        )

        # The review queue, measured from PostgreSQL at each scrape (`cases.queue`): every
        # worker measures the same table, so the largest live value is the current one.
        self.cases_unresolved = Gauge(
            "riskscore_cases_unresolved",
            "Unresolved cases by status (open, assigned) and age bucket since opening.",
            ["status", "age"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.cases_oldest = Gauge(
            "riskscore_cases_oldest_unresolved_age_seconds",
            "Age of the oldest unresolved case (0 with none).",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.cases_age_limit = Gauge(
            "riskscore_cases_max_unresolved_age_seconds",
            "RISKSCORE_CASE_MAX_AGE_SECONDS: the alert fires when the oldest case passes it.",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.case_resolution = Histogram(
            "riskscore_case_resolution_seconds",
            "Time from a case's opening to its resolution (each resolution, reopened ones too).",
            buckets=RESOLUTION_BUCKETS,
            registry=r,
        )

    def record_score(self, result: ScoreResult) -> None:
        decision, record = result.decision, result.record
        if decision.replayed or record is None:
            self.replays.inc()
            return
        self.decisions.labels(decision.decision, str(decision.degraded).lower()).inc()
        self.scores.observe(decision.score)
        for rule_id in decision.rules_matched:
            self.rule_matches.labels(rule_id, "active").inc()
        for rule_id in record.shadow_rules_matched:
            self.rule_matches.labels(rule_id, "shadow").inc()
        if record.degraded_cause is not None:
            self.feature_store_errors.labels(record.degraded_cause).inc()

    def observe_lag(self, lag: RecordingLag) -> None:
        gauges = self.recording
        gauges["oldest_unrecorded_seconds"].set(lag.oldest_unrecorded_age_seconds or 0.0)
        gauges["stream_entries"].set(lag.stream_entries)
        gauges["unrecorded_entries"].set(lag.unrecorded_entries)
        gauges["spool_bytes"].set(lag.spool_bytes)

    def observe_queue(self, health: QueueHealth, max_age_seconds: float) -> None:
        for (status, age), count in health.unresolved.items():
            self.cases_unresolved.labels(status, age).set(count)
        self.cases_oldest.set(health.oldest_seconds)
        self.cases_age_limit.set(max_age_seconds)

    def case_resolved(self, seconds: float) -> None:
        self.case_resolution.observe(seconds)

    def serving(self, gauge: Gauge, version: str) -> None:
        """Mark `version` as served by this worker, and the one it replaces as no longer."""
        previous = self._serving.get(id(gauge))
        if previous is not None and previous != version:
            gauge.labels(previous).set(0)  # `clear()` is not supported with several workers
        gauge.labels(version).set(1)
        self._serving[id(gauge)] = version

    def exposition(self) -> bytes:
        """The text format of every worker's metrics (merged when there are several)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
