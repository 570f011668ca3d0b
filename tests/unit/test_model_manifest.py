"""Where the model manifest is: the checkout's, or GRIDWATCH_MODEL_MANIFEST for an installed package."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.models import REPO, ModelError, load_manifest, manifest_path


def test_the_checkout_manifest_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDWATCH_MODEL_MANIFEST", raising=False)
    assert manifest_path() == REPO / "models" / "manifest.yaml"
    assert {"centernet-mbv3-coco", "nanodet-coco", "yolov8s-fire-smoke"} <= set(load_manifest())


def test_the_variable_points_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("models:\n  - {name: site-model, path: site/yolo.pt, backend: ultralytics}\n")
    monkeypatch.setenv("GRIDWATCH_MODEL_MANIFEST", str(manifest))
    assert list(load_manifest()) == ["site-model"]


def test_a_missing_manifest_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRIDWATCH_MODEL_MANIFEST", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(ModelError, match="no model manifest at .*nowhere.yaml: set GRIDWATCH_MODEL_MANIFEST"):
        load_manifest()
