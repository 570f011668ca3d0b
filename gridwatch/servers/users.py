"""Servers that refuse to run as root (PostgreSQL) run as an unprivileged system user instead."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from gridwatch.servers.process import ServerError

log = logging.getLogger(__name__)

FALLBACK_USER = "gridwatch"


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def service_user(preferred: tuple[str, ...] = ("postgres",)) -> str:
    """The first existing user of ``preferred``, else the ``gridwatch`` system user (created if missing)."""
    for name in preferred:
        if user_exists(name):
            return name
    if not user_exists(FALLBACK_USER):
        useradd = shutil.which("useradd")
        if useradd is None:
            raise ServerError(f"as root, servers need an unprivileged user: none of {preferred} exists, nor useradd")
        log.info("creating system user %s to run servers that refuse root", FALLBACK_USER)
        result = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 and not user_exists(FALLBACK_USER):
            raise ServerError(f"useradd {FALLBACK_USER} failed: {result.stderr.strip()}")
    return FALLBACK_USER


def hand_over(path: Path, user: str) -> None:
    """Make ``path`` (a directory we created) belong to ``user``, recursively, and reachable by it.

    Every ancestor needs search permission for ``user``; where one lacks it (a 0700 temp directory,
    say) we add only the execute bit for others, which lets it pass through but not list the folder."""
    entry = pwd.getpwnam(user)
    if path.stat().st_uid != entry.pw_uid:
        for dirpath, _dirnames, filenames in os.walk(path):
            os.chown(dirpath, entry.pw_uid, entry.pw_gid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    for parent in path.absolute().parents:
        mode = parent.stat().st_mode
        if parent.stat().st_uid != entry.pw_uid and not mode & stat.S_IXOTH:
            log.warning("adding search permission (o+x) to %s so user %s can reach %s", parent, user, path)
            os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
