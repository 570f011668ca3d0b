"""Detector backends behind one interface, chosen by ``type`` in the site file.

``BackendConfig`` is a discriminated union of every backend's config class: an unknown ``type``
is a validation error at load. ``build_backend`` maps a config to its (lazily imported) backend.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from detectors.backends.base import Backend, BackendConfigBase
from detectors.backends.onnx_centernet import CenterNetConfig
from detectors.backends.onnx_nanodet import NanoDetConfig
from detectors.backends.ultralytics_yolo import UltralyticsConfig

BackendConfig = Annotated[
    Union[CenterNetConfig, NanoDetConfig, UltralyticsConfig], Field(discriminator="type")
]


def build_backend(config: BackendConfigBase) -> Backend:
    """Load the model a config names (sha256-checked); raises ModelError or ImportError."""
    if isinstance(config, CenterNetConfig):
        from detectors.backends.onnx_centernet import CenterNetBackend

        return CenterNetBackend(config)
    if isinstance(config, NanoDetConfig):
        from detectors.backends.onnx_nanodet import NanoDetBackend

        return NanoDetBackend(config)
    if isinstance(config, UltralyticsConfig):
        from detectors.backends.ultralytics_yolo import UltralyticsBackend

        return UltralyticsBackend(config)
    raise TypeError(f"no backend for {type(config).__name__}")


__all__ = ["Backend", "BackendConfig", "build_backend", "CenterNetConfig", "NanoDetConfig", "UltralyticsConfig"]
