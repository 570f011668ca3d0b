"""The incident engine (pure): see ``engine.py``."""

from ingest.engine.engine import BatchResult, IncidentEngine, Outcome
from ingest.engine.render import incident_id_for
from ingest.engine.rules import EngineConfig, load_engine_config

__all__ = ["BatchResult", "EngineConfig", "IncidentEngine", "Outcome", "incident_id_for", "load_engine_config"]
