"""Camera readers on network sources: an HTTP MJPEG stream (multipart/x-mixed-replace, what most IP
cameras serve at /mjpg/video.mjpg) from a small server on loopback, read through OpenCV's FFmpeg;
the reader reconnects when the server goes away and comes back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from edge.capture import CameraReader
from edge.config import CameraConfig
from edge.metrics import EdgeMetrics
from gridwatch.backoff import Backoff
from gridwatch.servers.ports import free_port

from .helpers import wait_until

CAMERA = CameraConfig(id="cam-mjpeg", source="unused", lat=37.86, lon=112.55)
BOUNDARY = b"gridwatchframe"


def jpeg(i: int) -> bytes:
    image = np.full((120, 160, 3), (i * 10) % 255, np.uint8)
    cv2.putText(image, str(i), (10, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    return cv2.imencode(".jpg", image)[1].tobytes()


class MjpegHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        self.end_headers()
        i = 0
        try:
            while not self.server.stopping.is_set():  # type: ignore[attr-defined]
                body = jpeg(i)
                self.wfile.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n"
                                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body + b"\r\n")
                i += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def mjpeg_server(port: int) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", port), MjpegHandler)
    server.daemon_threads = True
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.stopping.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


def test_http_mjpeg_camera_is_read_and_reconnected_after_the_server_returns() -> None:
    port = free_port()
    metrics = EdgeMetrics()
    reader = CameraReader(CAMERA, f"http://127.0.0.1:{port}/mjpg/video.mjpg", lambda cam, at: None, metrics,
                          delay=Backoff(initial_s=0.2, max_s=0.5, jitter=0), count_drops=True)
    with mjpeg_server(port):
        reader.start()
        try:
            wait_until(lambda: reader.status().frames >= 5, timeout_s=30, what="frames from the MJPEG stream")
            frame = reader.take(timeout_s=5)
            assert frame is not None and frame.image.shape == (120, 160, 3)
        except BaseException:
            reader.stop()
            raise
    try:
        reconnects = lambda: metrics.registry.get_sample_value("gridwatch_edge_camera_reconnects_total",  # noqa: E731
                                                               {"camera": "cam-mjpeg"}) or 0
        wait_until(lambda: reconnects() >= 1, timeout_s=30, what="the reader to notice the server went away")
        before = reader.status().frames
        with mjpeg_server(port):
            wait_until(lambda: reader.status().frames > before + 5, timeout_s=60, what="frames after the server returned")
    finally:
        reader.stop()
    assert reader.status().failed_reads >= 1
