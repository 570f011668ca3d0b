"""The optional mypyc build of the engine (setup.py): telling compiled modules from sources, and
refusing a compiled module older than its source (Python would import it instead of the edit)."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import pytest

from ingest.engine.compiled import StaleBuild, check_fresh, compiled, describe


def module(name: str, path: Path) -> ModuleType:
    loaded = ModuleType(name)
    loaded.__file__ = str(path)
    return loaded


def built_beside_source(tmp_path: Path, built_at: int, edited_at: int) -> tuple[Path, Path]:
    built, source = tmp_path / "engine.cpython-311-x86_64-linux-gnu.so", tmp_path / "engine.py"
    built.write_bytes(b"")
    source.write_text("")
    os.utime(built, (built_at, built_at))
    os.utime(source, (edited_at, edited_at))
    return built, source


def test_compiled_names_only_the_modules_loaded_from_an_extension(tmp_path: Path) -> None:
    built, source = built_beside_source(tmp_path, 2000, 1000)
    assert compiled([module("fast", built), module("plain", source), module("cached", tmp_path / "x.pyc")]) == ["fast"]
    assert compiled([]) == []


def test_a_compiled_module_older_than_its_source_is_refused(tmp_path: Path) -> None:
    built, _ = built_beside_source(tmp_path, built_at=1000, edited_at=2000)
    with pytest.raises(StaleBuild, match="engine.py last changed: rebuild it"):
        check_fresh([module("ingest.engine.engine", built)])


def test_a_fresh_build_and_plain_sources_load(tmp_path: Path) -> None:
    built, source = built_beside_source(tmp_path, built_at=2000, edited_at=1000)
    check_fresh([module("ingest.engine.engine", built), module("ingest.engine.geo", source)])  # no error


def test_an_installed_package_is_not_judged_by_the_times_pip_wrote_its_files(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages" / "ingest" / "engine"
    site.mkdir(parents=True)
    built, _ = built_beside_source(site, built_at=1000, edited_at=2000)  # pip wrote the .py last
    check_fresh([module("ingest.engine.engine", built)])  # no error


def test_describe_says_which_build_runs(tmp_path: Path) -> None:
    built, source = built_beside_source(tmp_path, 2000, 1000)
    assert describe([module("a", source), module("b", source)]) == "pure Python"
    assert describe([module("a", built), module("b", source)]) == "compiled with mypyc (1 of 2 modules)"
