"""Which incident engine a benchmark ran: pure Python or the mypyc build (setup.py), so a figure is
never quoted for the wrong one."""

from __future__ import annotations

from ingest.engine import COMPILABLE
from ingest.engine.compiled import compiled


def describe_engine() -> str:
    built = compiled(COMPILABLE)
    if not built:
        return "pure Python"
    return f"compiled with mypyc ({len(built)} of {len(COMPILABLE)} modules)"
