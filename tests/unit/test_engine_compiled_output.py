"""The mypyc-compiled incident engine (setup.py's build, which the production image ships) gives byte
for byte the incidents the pure engine gives: replay, a shuffled arrival order, and the live path.

The engine is built once per session in a copy of the sources (tests/unit/mypyc_build.py, cached by a
hash of the engine's sources) and run in a subprocess with that copy first on the path; the pure
engine runs here, from the checkout. Skips only without mypy or a C compiler, and fails instead under
CI (``CI`` set), where .ci/run installs both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ingest.engine import COMPILABLE
from ingest.engine.compiled import compiled

from . import engine_outputs
from .conftest import REPO
from .mypyc_build import CompiledTree, compiled_tree, missing_toolchain


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> CompiledTree:
    missing = missing_toolchain()
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must test the compiled engine, but {missing}")
    if missing:
        pytest.skip(f"cannot build the compiled engine: {missing}")
    return compiled_tree(REPO, tmp_path_factory.mktemp("compiled-engine"))


@pytest.fixture(scope="session")
def compiled_run(tree: CompiledTree) -> dict[str, Any]:
    """``engine_outputs`` run against the compiled tree, in a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(tree.root)}
    done = subprocess.run([sys.executable, str(Path(engine_outputs.__file__))], cwd=tree.root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (f"the compiled engine failed to run (build from "
                                  f"{'cache ' + str(tree.cache) if tree.cached else 'now'}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def test_the_checkout_itself_runs_the_pure_engine() -> None:
    """The build stays out of the checkout: nothing here shadows the sources."""
    assert compiled(COMPILABLE) == []


def test_every_engine_module_runs_compiled_from_the_build(tree: CompiledTree, compiled_run: dict[str, Any]) -> None:
    assert compiled_run["compiled"] == [module.__name__ for module in COMPILABLE]
    for name, file in compiled_run["files"].items():
        assert Path(file).is_relative_to(tree.root) and file.endswith(".so"), f"{name} loaded from {file}"


def test_the_compiled_engine_gives_byte_for_byte_the_pure_engines_incidents(compiled_run: dict[str, Any]) -> None:
    pure = engine_outputs.outputs()
    assert compiled_run["outputs"].keys() == pure.keys()
    for case, incidents in pure.items():
        assert len(incidents) >= 20, f"{case}: too few incidents to compare ({len(incidents)})"
        assert compiled_run["outputs"][case] == incidents, f"{case}: the compiled engine's incidents differ"
