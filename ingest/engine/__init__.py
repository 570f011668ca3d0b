"""The incident engine (pure): see ``engine.py``."""

from ingest.engine.engine import BatchResult, IncidentEngine, Outcome, incident_id_for
from ingest.engine.rules import EngineConfig, load_engine_config
from ingest.engine.state import EngineState

__all__ = ["BatchResult", "EngineConfig", "EngineState", "IncidentEngine", "Outcome", "incident_id_for", "load_engine_config"]
