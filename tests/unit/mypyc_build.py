"""Build the mypyc-compiled incident engine (setup.py, ``GRIDWATCH_MYPYC=1``) in a copy of the sources,
never in the checkout: a ``.so`` beside the checkout's sources would shadow them for the rest of the
test session, and go stale with the next edit.

A build takes ~30-60 s on one core, so its extension modules are cached under
``${GRIDWATCH_CACHE:-~/.cache/gridwatch}/mypyc-engine/<key>``, the key a hash of what the build
depends on: setup.py, the engine's sources, mypy's version and the Python build.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from gridwatch.servers.kafka import cache_root

COPIED = ("ingest", "gridwatch", "bench", "setup.py", "pyproject.toml", "README.md")
BUILD = [sys.executable, "setup.py", "build_ext", "--inplace"]


@dataclass(frozen=True)
class CompiledTree:
    root: Path  # a copy of the sources with the compiled engine beside them
    cache: Path  # where its extension modules are cached
    cached: bool  # taken from the cache, not built now
    seconds: float  # copying plus building (or copying from the cache)


def missing_toolchain() -> str | None:
    """What the build lacks on this machine, or None."""
    if importlib.util.find_spec("mypyc") is None:
        return "mypy (which brings mypyc) is not installed: pip install -e '.[dev,compiled]'"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler}) on PATH: apt-get install gcc libc6-dev"
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.exists():
        return f"no Python headers ({headers}): apt-get install python3-dev"
    return None


def build_key(repo: Path) -> str:
    digest = hashlib.sha256()
    for part in (sys.version, sysconfig.get_config_var("EXT_SUFFIX") or "", version("mypy")):
        digest.update(part.encode() + b"\0")
    for source in [repo / "setup.py", *sorted((repo / "ingest" / "engine").glob("*.py"))]:
        digest.update(source.relative_to(repo).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def copy_sources(repo: Path, root: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
    for name in COPIED:
        source = repo / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore)
        else:
            shutil.copy2(source, root / name)


def extensions(root: Path) -> list[Path]:
    """The build's extension modules, relative to ``root`` (the engine's modules and mypyc's shared
    library beside the packages), leaving out setuptools' build/ copies."""
    return sorted(p.relative_to(root) for p in root.rglob("*.so") if p.relative_to(root).parts[0] != "build")


def build(root: Path) -> None:
    done = subprocess.run(BUILD, cwd=root, env={**os.environ, "GRIDWATCH_MYPYC": "1"},
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"mypyc build failed ({' '.join(BUILD)} in {root}, exit {done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def store(root: Path, cache: Path) -> None:
    """Copy the build's extension modules into the cache, whole or not at all."""
    staging = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for relative in extensions(root):
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, staging / relative)
    try:
        staging.rename(cache)
    except OSError:  # another session stored the same build first
        shutil.rmtree(staging, ignore_errors=True)


def restore(cache: Path, root: Path) -> None:
    """Copy cached extension modules into ``root``, stamped now: newer than the sources copied before
    them, as ``ingest.engine`` requires (it refuses a compiled module older than its source)."""
    for relative in extensions(cache):
        shutil.copyfile(cache / relative, root / relative)


def compiled_tree(repo: Path, root: Path) -> CompiledTree:
    """A copy of ``repo``'s sources in ``root`` with the engine compiled beside them."""
    start = time.perf_counter()
    cache = cache_root() / "mypyc-engine" / build_key(repo)
    copy_sources(repo, root)
    cached = cache.is_dir()
    if cached:
        restore(cache, root)
    else:
        build(root)
        cache.parent.mkdir(parents=True, exist_ok=True)
        store(root, cache)
    return CompiledTree(root, cache, cached, time.perf_counter() - start)


def compiled_tree_or_skip(repo: Path, root: Path) -> CompiledTree:
    """``compiled_tree``, or skip the test without mypy or a C compiler (fail instead under CI, which
    installs both)."""
    import pytest

    missing = missing_toolchain()
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must test the compiled engine, but {missing}")
    if missing:
        pytest.skip(f"cannot build the compiled engine: {missing}")
    return compiled_tree(repo, root)
