"""One optional build step beside pyproject.toml: ``GRIDWATCH_MYPYC=1`` compiles the incident engine
(``ingest/engine/``, pure Python with type hints) to C extensions with mypyc.

Off by default, so ``pip install -e .[dev]`` stays pure Python; the engine gives byte for byte the
same incidents either way. The production image builds its wheel with it (Dockerfile), and CI checks
a build against the pure engine (tests/unit/test_engine_compiled_output.py, in a copy of the sources).
To compile in place (mypy, which brings mypyc, is the ``compiled`` extra; a C compiler and Python's
headers are needed):

    pip install -e '.[dev,compiled]'
    GRIDWATCH_MYPYC=1 python setup.py build_ext --inplace

Python then imports the compiled modules (``ingest/engine/*.so``) instead of their sources, and
``ingest.engine`` refuses to load one older than its source. Delete ``ingest/engine/*.so`` to go
back to pure Python.
"""

import os

from setuptools import setup

COMPILED_ENGINE_MODULES = [
    "ingest/engine/geo.py",
    "ingest/engine/rounding.py",
    "ingest/engine/links.py",
    "ingest/engine/cluster.py",
    "ingest/engine/cells.py",
    "ingest/engine/dedupe.py",
    "ingest/engine/observation.py",
    "ingest/engine/engine.py",
    "ingest/engine/render.py",
]


def ext_modules() -> list:
    if os.environ.get("GRIDWATCH_MYPYC") != "1":
        return []
    from mypyc.build import mypycify

    # Modules outside the engine (pydantic contracts, config, grids) stay interpreted and are typed Any.
    return mypycify(["--ignore-missing-imports", "--follow-imports=skip", *COMPILED_ENGINE_MODULES], opt_level="3")


setup(ext_modules=ext_modules())
