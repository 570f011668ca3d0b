"""Service settings, read from the environment (``GRIDWATCH_...``) and validated once at start.

Nested groups use ``__``: ``GRIDWATCH_KAFKA__BOOTSTRAP_SERVERS=kafka:9092``. Nothing here is read at
import time: each service builds its own ``Settings()`` in its entry point and passes it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Topics(BaseModel):
    alerts: str = "gridwatch.alerts"
    reports: str = "gridwatch.reports"
    incidents: str = "gridwatch.incidents"
    heartbeats: str = "gridwatch.heartbeats"
    deadletter: str = Field("gridwatch.deadletter", description="rejected messages, with the reason in headers")
    snapshots: str = Field(
        "gridwatch.snapshots", description="evidence JPEGs, key = alert id, alert/camera ids in headers"
    )


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    topics: Topics = Topics()
    ingest_group: str = "gridwatch-ingest"
    client_id: str = "gridwatch"


class DatabaseSettings(BaseModel):
    url: str = Field(
        "postgresql://gridwatch:gridwatch@127.0.0.1:5432/gridwatch",
        description="libpq connection URL of the TimescaleDB/PostgreSQL database",
    )


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080


class IngestSettings(BaseModel):
    # A batch is what one poll returns, so it is small while the ingest keeps up; while it catches up,
    # 5,000 rather than 2,000 cut the ingest's CPU per alert by a fifth and PostgreSQL's by as much
    # (bench/ingest_throughput.py --batch 2000 --batch 5000): an incident touched all through a
    # backlog is rendered and written once a batch, members and all, so fewer batches mean fewer rewrites.
    batch_max: int = Field(5000, ge=1, description="most messages handled in one database transaction")
    poll_timeout_ms: int = Field(200, ge=1)
    grids_file: Path | None = Field(None, description="GeoJSON grid map loaded at start when the database has none")
    metrics_port: int = Field(9101, ge=0, description="Prometheus metrics and /healthz; 0 turns it off")
    grid_reload_s: float = Field(5.0, gt=0, description="how often the ingest checks for a newly loaded grid map")
    escalation_every_s: float = Field(15.0, gt=0, description="how often the ingest escalates incidents past their "
                                      "limits (wall clock); a limit is met at most this late")
    escalation_batch_max: int = Field(500, ge=1, description="most incidents escalated in one transaction; "
                                      "a full round is followed by the next at once")
    snapshot_retention_days: float = Field(90.0, ge=0, description="evidence pictures older than this (by when "
                                           "they were taken) are deleted; 0 keeps them forever")
    snapshot_prune_every_s: float = Field(3600.0, gt=0, description="how often the snapshot consumer deletes "
                                          "pictures past their retention")
    gc_threshold: int = Field(50_000, ge=1, description="allocations between two collections of Python's young "
                              "objects (CPython's default is 700, which made the ingest slower the longer it ran: "
                              "ingest/gc_policy.py)")


class EdgeSettings(BaseModel):
    spool_dir: Path = Path("var/edge-spool")
    metrics_port: int = Field(9102, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", env_nested_delimiter="__", extra="forbid")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(Path("var"), description="where `gridwatch up` keeps its servers' data")
    kafka: KafkaSettings = KafkaSettings()
    database: DatabaseSettings = DatabaseSettings()
    mqtt: MqttSettings = MqttSettings()
    api: ApiSettings = ApiSettings()
    ingest: IngestSettings = IngestSettings()
    edge: EdgeSettings = EdgeSettings()
    escalation_file: Path | None = Field(
        None, description="escalation limits YAML (e.g. configs/escalation.yaml) read by the ingest and the API; "
                          "None: the built-in defaults, which that file repeats")
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> "Settings":
        if self.environment == "production" and ":gridwatch@" in self.database.url:
            raise ValueError(
                "GRIDWATCH_DATABASE__URL still uses the development password 'gridwatch'; "
                "set a real password for production"
            )
        return self
