"""The incident engine (pure): see ``engine.py``. Optionally compiled with mypyc (``setup.py``)."""

from ingest.engine import (
    cells,
    cluster,
    dedupe,
    engine,
    geo,
    links,
    observation,
    render,
    rounding,
)
from ingest.engine.compiled import check_fresh
from ingest.engine.engine import BatchResult, IncidentEngine, Outcome
from ingest.engine.render import incident_id_for
from ingest.engine.rules import EngineConfig, load_engine_config

COMPILABLE = (geo, rounding, links, cluster, cells, dedupe, observation, engine, render)  # setup.py's COMPILED_ENGINE_MODULES
check_fresh(COMPILABLE)

__all__ = ["BatchResult", "COMPILABLE", "EngineConfig", "IncidentEngine", "Outcome", "incident_id_for",
           "load_engine_config"]
