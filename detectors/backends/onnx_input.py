"""Run a fixed-size ONNX detector at another input size, square or not.

Both COCO models were exported with a fixed square input (CenterNet 512, NanoDet 416), but their
graphs are fully convolutional: only the input's declared height and width, and for CenterNet the
one Reshape that spells out its 128 x 128 output grid as 16384 cells, name the size. Re-declaring
those (with the ``onnx`` package, at load, in memory: the shared weights stay as they are and keep
their sha256) lets ONNX Runtime run the model at any multiple of 32. A smaller input costs roughly
its share of the native pixels and sees small objects less well; a 4:3 input (512 x 384) for a 4:3
camera squashes the picture less than the native square. ``bench/detector_fps.py`` measures the
speed; tests/unit/test_detectors_speed.py checks what the smaller inputs still find on vtest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detectors.backends.base import onnx_session
from detectors.models import ModelError, resolve

MISSING = "input_size other than the model's own needs the onnx package: pip install 'onnx>=1.16'"


def model_at_size(path: Path, native: int, size: tuple[int, int], stride: int | None = None) -> str | bytes:
    """``path`` itself at the native size, else the model's bytes with its input re-declared as
    ``size`` = (width, height); with ``stride``, Reshape shapes holding the native output grid's cell
    count ((native / stride)^2) are rewritten to the new grid's."""
    width, height = size
    if width == height == native:
        return str(path)
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise ModelError(MISSING) from exc
    model = onnx.load(str(path))
    spatial = [d for d in model.graph.input[0].type.tensor_type.shape.dim if d.dim_value == native]
    if len(spatial) != 2:
        raise ModelError(f"{path.name}: expected a {native} x {native} input, found {model.graph.input[0].type}")
    spatial[0].dim_value, spatial[1].dim_value = height, width  # NHWC and NCHW alike: H before W
    if stride is not None:
        _rewrite_grid_reshapes(model, numpy_helper, (native // stride) ** 2, (width // stride) * (height // stride))
    for output in model.graph.output:  # inferred again by ONNX Runtime from the new input
        output.type.tensor_type.ClearField("shape")
    del model.graph.value_info[:]
    return model.SerializeToString()


def session_at_size(model: str, native: int, size: tuple[int, int], threads: int,
                    stride: int | None = None) -> tuple[Any, str]:
    """An ONNX Runtime session of the named model at input ``size`` (width, height), and its input's name."""
    path, _ = resolve(model)
    session = onnx_session(model_at_size(path, native, size, stride), threads)
    return session, session.get_inputs()[0].name


def to_image_pixels(xyxy: np.ndarray, size: tuple[int, int], width: int, height: int) -> np.ndarray:
    """Boxes in input pixels (``size`` = input width, height) to a ``width`` x ``height`` image's, clipped."""
    scale = np.array([width / size[0], height / size[1]] * 2, dtype=np.float32)
    return np.clip(xyxy * scale, 0, [width, height, width, height])


def _rewrite_grid_reshapes(model: Any, numpy_helper: Any, old: int, new: int) -> None:
    initializers = {i.name: i for i in model.graph.initializer}
    rewritten = 0
    for node in model.graph.node:
        shape = initializers.get(node.input[1]) if node.op_type == "Reshape" else None
        if shape is None:
            continue
        values = numpy_helper.to_array(shape)
        if old in values:
            shape.CopyFrom(numpy_helper.from_array(np.where(values == old, new, values).astype(values.dtype), shape.name))
            rewritten += 1
    if rewritten == 0:
        raise ModelError(f"no Reshape holds the {old}-cell output grid: this model cannot change its input size")
