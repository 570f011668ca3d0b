"""Where model files are and whether they are the ones the manifest names.

Paths in ``models/manifest.yaml`` are relative to ``GRIDWATCH_MODELS_DIR`` (default
``../shared/models`` beside the repository). The manifest itself is the checkout's, or wherever
``GRIDWATCH_MODEL_MANIFEST`` says (an installed package has no checkout: the production image sets it). A model is sha256-checked when a backend loads it,
not when configuration is validated: validation must not do I/O (STYLE.md warts).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


class ModelError(RuntimeError):
    """A model file is missing, unknown or not the file its manifest entry names."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: str
    sha256: str | None
    backend: str
    format: str | None = None
    labels: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def models_dir() -> Path:
    """``GRIDWATCH_MODELS_DIR`` or ``../shared/models`` beside the repository."""
    env = os.environ.get("GRIDWATCH_MODELS_DIR")
    return Path(env) if env else REPO.parent / "shared" / "models"


def manifest_path() -> Path:
    """``GRIDWATCH_MODEL_MANIFEST`` or ``models/manifest.yaml`` of the checkout."""
    env = os.environ.get("GRIDWATCH_MODEL_MANIFEST")
    return Path(env) if env else REPO / "models" / "manifest.yaml"


def load_manifest(path: Path | None = None) -> dict[str, ModelSpec]:
    path = path or manifest_path()
    if not path.is_file():
        raise ModelError(f"no model manifest at {path}: set GRIDWATCH_MODEL_MANIFEST to the models/manifest.yaml "
                         "shipped with GridWatch")
    raw = yaml.safe_load(path.read_text())
    specs = {}
    for m in raw.get("models", []):
        known = {k: m.get(k) for k in ("name", "path", "sha256", "backend", "format", "labels")}
        extra = {k: v for k, v in m.items() if k not in known}
        specs[m["name"]] = ModelSpec(**known, extra=extra)  # type: ignore[arg-type]
    return specs


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve(model: str, manifest: dict[str, ModelSpec] | None = None) -> tuple[Path, ModelSpec | None]:
    """Find a model by manifest name, or take ``model`` as a path (an installer's own weights).

    A manifest model is sha256-checked; a bare path is used as given (its owner vouches for it).
    """
    specs = load_manifest() if manifest is None else manifest
    spec = specs.get(model)
    if spec is None:
        path = Path(model).expanduser()
        if not path.is_absolute():
            path = models_dir() / path
        if not path.is_file():
            raise ModelError(f"model {model!r} is neither a manifest name ({', '.join(sorted(specs))}) nor a file")
        return path, None
    path = models_dir() / spec.path
    if not path.is_file():
        raise ModelError(f"model {spec.name}: {path} not found (set GRIDWATCH_MODELS_DIR)")
    if spec.sha256 and (digest := sha256_of(path)) != spec.sha256:
        raise ModelError(f"model {spec.name}: {path} has sha256 {digest[:12]}…, manifest says {spec.sha256[:12]}…")
    return path, spec
