"""The API's Prometheus metrics, in a registry owned by one app instance.

A per-app ``CollectorRegistry`` (not prometheus_client's global one) lets tests build many apps in
one process without "Duplicated timeseries" errors, and keeps each app's counts its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class ApiMetrics:
    registry: CollectorRegistry
    rejected: Counter
    reports_accepted: Counter
    publish_failures: Counter
    transitions: Counter

    @classmethod
    def create(cls) -> "ApiMetrics":
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            rejected=Counter("gridwatch_api_rejected",
                             "Requests refused as invalid (422), by route and first error type",
                             ["route", "reason"], registry=registry),
            reports_accepted=Counter("gridwatch_api_reports_accepted", "Patrol reports acknowledged by Kafka",
                                     registry=registry),
            publish_failures=Counter("gridwatch_api_publish_failures", "Kafka sends that failed or timed out, by topic",
                                     ["topic"], registry=registry),
            transitions=Counter("gridwatch_api_incident_transitions", "Incident lifecycle steps applied, by action",
                                ["action"], registry=registry),
        )
