"""The API's Kafka producer: connected on first use, every wait bounded.

The API must start and serve reads while Kafka is down, and a POST must answer 503 within a few
seconds instead of hanging for kafka-python's defaults (30 s bootstrap, 60 s ``max_block_ms``).
After a failed connect the publisher refuses fast for ``retry_after_s`` so a burst of requests does
not queue up behind one slow connect attempt each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import KafkaError

from gridwatch.kafka import make_producer
from gridwatch.settings import KafkaSettings

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """Kafka did not take the message in time; the caller should answer 503 and the client retry."""


@dataclass(frozen=True)
class PublisherStatus:
    ok: bool
    status: str  # "idle" (never used), "connected" (last send acknowledged), "unavailable"
    detail: str = ""


class KafkaPublisher:
    """Thread-safe: FastAPI runs sync endpoints on a thread pool."""

    def __init__(self, settings: KafkaSettings, timeout_s: float = 5.0, retry_after_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._last_error = ""
        self._failed_at: float | None = None

    def publish(self, topic: str, key: str | None, value: bytes) -> tuple[int, int]:
        """Send and wait for the acknowledgement (acks=all); return (partition, offset)."""
        producer = self._connected()
        try:
            future = producer.send(topic, key=key.encode() if key else None, value=value)
            metadata = future.get(timeout=self._timeout_s)
        except KafkaError as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            raise KafkaUnavailable(
                f"Kafka did not acknowledge the message within {self._timeout_s:g} s ({self._last_error}); "
                "it is not confirmed stored, retry later"
            ) from exc
        self._last_error = ""
        return metadata.partition, metadata.offset

    def _connected(self) -> KafkaProducer:
        with self._lock:
            if self._producer is not None:
                return self._producer
            if self._failed_at is not None and self._clock() - self._failed_at < self._retry_after_s:
                raise KafkaUnavailable(f"Kafka is unreachable ({self._last_error}); retry later")
            timeout_ms = int(self._timeout_s * 1000)
            try:
                self._producer = make_producer(
                    self._settings, bootstrap_timeout_ms=timeout_ms, max_block_ms=timeout_ms,
                    request_timeout_ms=timeout_ms, linger_ms=0,
                )
            except KafkaError as exc:
                self._failed_at = self._clock()
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning("kafka connect failed: %s", self._last_error)
                raise KafkaUnavailable(
                    f"Kafka at {self._settings.bootstrap_servers} is unreachable ({self._last_error}); retry later"
                ) from exc
            self._failed_at = None
            return self._producer

    def status(self) -> PublisherStatus:
        """For /healthz: never connects, so a health probe cannot stall on Kafka."""
        if self._producer is None:
            if self._failed_at is None:
                return PublisherStatus(True, "idle", "connects on the first report")
            return PublisherStatus(False, "unavailable", self._last_error)
        if self._last_error:
            return PublisherStatus(False, "unavailable", self._last_error)
        # kafka-python drops the bootstrap connection once it has metadata, so "connected" is judged
        # by the outcome of the last send rather than by a socket.
        return PublisherStatus(True, "connected", "last send acknowledged")

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self._timeout_s)
                self._producer = None
