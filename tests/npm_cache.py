"""npm packages that tests run on Node (PGlite + TimescaleDB, jsdom), installed outside the repository
into ``${GRIDWATCH_CACHE:-~/.cache/gridwatch}/NAME`` from a pinned package.json in the tests folder.

.ci/run installs the same folders before the tests; a test that needs one installs it on first use
and skips, saying why, when node or npm is missing or the install fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL_TIMEOUT_S = 600


def cache_dir(name: str) -> Path:
    return Path(os.environ.get("GRIDWATCH_CACHE") or "~/.cache/gridwatch").expanduser() / name


def npm_folder(name: str, source: Path, what: str, scripts: tuple[str, ...] = ()) -> Path:
    """``source``'s package.json installed in the cache folder ``name`` (again only when it changed),
    with ``scripts`` (file names in ``source``) copied beside its node_modules."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"{what} needs node and npm on PATH")
    target = cache_dir(name)
    target.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        shutil.copyfile(source / script, target / script)
    wanted = (source / "package.json").read_text()
    stamp = target / ".installed-package.json"
    if stamp.exists() and stamp.read_text() == wanted and (target / "node_modules").is_dir():
        return target
    (target / "package.json").write_text(wanted)
    try:
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--fetch-retries=1"],
                              cwd=target, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install for {what} into {target} took over {INSTALL_TIMEOUT_S} s")
    if done.returncode != 0:
        pytest.skip(f"npm install for {what} into {target} failed: {done.stderr.strip()[-600:]}")
    stamp.write_text(wanted)
    return target
