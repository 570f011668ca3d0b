"""Video detectors: one object detection per frame, tracked, shared by pure alert rules.

Layout (one idea per module): ``types`` (Detections, TimedFrame, AlertDecision), ``backends/``
(ONNX Runtime and ultralytics behind one interface), ``tracking`` (ByteTrack), ``zones``,
``calibration``, ``confirm`` (k-of-n, update interval, end, cooldown), the rules ``crowd``,
``fire`` and ``parking``, and ``pipeline`` (per-camera wiring with motion gating).

Importing this package never imports torch or ultralytics; only the ultralytics backend does,
lazily, when it is built.
"""
