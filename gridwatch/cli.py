"""The ``gridwatch`` command. Each subcommand imports its service lazily, so ``--help`` is instant
and the edge never imports the API's or the ingest's dependencies."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gridwatch.configfile import ConfigError

if TYPE_CHECKING:
    from edge.config import CameraConfig

Handler = Callable[[argparse.Namespace], int]

EPILOG = """\
Settings come from the environment (GRIDWATCH_...; nested with __), for example
  GRIDWATCH_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092
  GRIDWATCH_DATABASE__URL=postgresql://gridwatch:secret@db:5432/gridwatch
  GRIDWATCH_MQTT__HOST=127.0.0.1  GRIDWATCH_MQTT__PORT=1883
Run `gridwatch up` to start everything on this machine with embedded defaults.
"""


def _settings():  # noqa: ANN202 - imported lazily to keep --help fast
    from gridwatch.observability import configure_logging
    from gridwatch.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def cmd_up(args: argparse.Namespace) -> int:
    from gridwatch.up import run_up

    return run_up(data_dir=args.data_dir, site=args.site, grids=args.grids, api_port=args.api_port)


def cmd_edge(args: argparse.Namespace) -> int:
    from edge.agent import run_agent
    from edge.config import load_site

    return run_agent(_settings(), load_site(args.config), args.config)


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.service import run_ingest

    return run_ingest(_settings(), grids_file=args.grids)


def cmd_api(args: argparse.Namespace) -> int:
    from api.server import run_api

    settings = _settings()
    if args.port is not None:
        settings.api.port = args.port
    return run_api(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    from ingest.migrate import migrate

    applied = migrate(_settings().database.url)
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def cmd_grids_load(args: argparse.Namespace) -> int:
    from gridwatch.gridmap import load_grid_map
    from ingest.gridstore import store_grid_map

    grid_map = load_grid_map(args.file)
    version = store_grid_map(_settings().database.url, grid_map, source=str(args.file))
    print(f"loaded {len(grid_map.features)} grids from {args.file} (map version {version})")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from ingest.replay import replay_file

    summary = replay_file(args.grids, args.input, args.output, config=args.engine_config)
    print(summary, file=sys.stderr)
    return 0


def rfc3339(text: str) -> datetime:
    """argparse type: an RFC 3339 time with a zone (``Z`` or an offset), as in the contracts."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r} (e.g. 2026-09-09T06:00:00Z)") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. Z or +08:00")
    return value


def positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def cmd_detect(args: argparse.Namespace) -> int:
    from edge.config import CameraConfig
    from edge.detect import DetectError, DetectOptions, print_summary, run_detect, source_for
    from gridwatch.configfile import load_yaml_model

    camera = load_yaml_model(args.camera, CameraConfig)
    options = DetectOptions(
        source=source_for(camera, args.camera, args.source), output=args.output, site_id=args.site_id,
        start=args.start, every_s=args.every_s, annotate=args.annotate, snapshots=args.snapshots,
    )
    try:
        summary = run_detect(camera, options)
    except DetectError as exc:
        print(f"gridwatch detect: {exc}", file=sys.stderr)
        return 2
    print_summary(summary, options)
    return 0


DETECT_DESCRIPTION = """\
Run one camera's video detectors (crowd, parking and, when configured, fire) over a video file
or stream, with no Kafka and no other service, and write one contract Alert (CONTRACTS.md) per
line. Use it to tune zones and thresholds on recorded footage before a camera goes live.

For a file, each frame's time is its position in the file laid onto --start, so running the
same file again gives the same alerts with the same ids; a live stream (rtsp://, http://) is
stamped with the wall clock and runs until Ctrl-C.
"""

DETECT_EPILOG = """\
example:
  gridwatch detect --camera configs/cameras/vtest-sample.yaml \\
      --source ../shared/media/video/vtest.avi --output alerts.jsonl \\
      --annotate vtest-annotated.mp4 --snapshots snapshots --every-s 0.5
"""


def add_detect_parser(sub: argparse._SubParsersAction) -> None:
    detect = sub.add_parser("detect", help="run a camera's detectors over a video; alerts to JSON lines",
                            description=DETECT_DESCRIPTION, epilog=DETECT_EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    detect.add_argument("--camera", type=Path, required=True, metavar="CAMERA.yaml",
                        help="one camera (a site file's cameras[] entry: id, lat/lon, zones, detectors)")
    detect.add_argument("--source", default=None, metavar="VIDEO_OR_URL",
                        help="video file or rtsp:// / http:// URL (default: the camera's source, "
                        "relative to the camera file)")
    detect.add_argument("--output", type=Path, required=True, metavar="ALERTS.jsonl", help="alerts, one JSON per line")
    detect.add_argument("--annotate", type=Path, default=None, metavar="OUT.mp4",
                        help="also write the processed frames (mp4v) with boxes, track ids, zones and open alerts")
    detect.add_argument("--snapshots", type=Path, default=None, metavar="DIR",
                        help="save a JPEG per alert as DIR/CAMERA/ALERT_ID.jpg; attributes.snapshot holds that "
                        "relative path")
    detect.add_argument("--start", type=rfc3339, default=None, metavar="RFC3339",
                        help="wall time of a file's first frame (default 1970-01-01T00:00:00Z); its offset is "
                        "the local time for time-of-day parking limits")
    detect.add_argument("--every-s", type=positive_seconds, default=None, metavar="SECONDS",
                        help="process one frame per this many seconds of video (default: 1 / the camera's "
                        "detectors.frame_rate)")
    detect.add_argument("--site-id", default="local", help="site_id written into each alert (default: local)")
    detect.set_defaults(handler=cmd_detect)


def zones_source(args: argparse.Namespace, command: str) -> tuple[CameraConfig | None, str] | None:
    """The camera file (validated) and the source to take a picture from; None after printing why not."""
    from edge.config import CameraConfig
    from edge.detect import source_for
    from gridwatch.configfile import load_yaml_model

    camera = load_yaml_model(args.camera, CameraConfig) if args.camera else None
    if camera is None and not args.source:
        print(f"gridwatch zones {command}: give --source, --camera, or both", file=sys.stderr)
        return None
    return camera, (source_for(camera, args.camera, args.source) if camera else str(args.source))


def cmd_zones_draw(args: argparse.Namespace) -> int:
    from edge.zonegrid import ZonesDrawError, write_zones_picture

    found = zones_source(args, "draw")
    if found is None:
        return 2
    camera, source = found
    try:
        width, height = write_zones_picture(source, args.output, camera)
    except ZonesDrawError as exc:
        print(f"gridwatch zones draw: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({width}x{height} px, grid every 50 px)", file=sys.stderr)
    return 0


def cmd_zones_edit(args: argparse.Namespace) -> int:
    import uvicorn

    from edge.zone_editor import editor_app, load_session
    from edge.zonegrid import ZonesDrawError, first_frame

    found = zones_source(args, "edit")
    if found is None:
        return 2
    _, source = found
    try:
        frame = first_frame(source)
    except ZonesDrawError as exc:
        print(f"gridwatch zones edit: {exc}", file=sys.stderr)
        return 2
    app = editor_app(load_session(frame, args.output, args.camera))
    print(f"zone editor for {source} ({frame.shape[1]}x{frame.shape[0]} px) on http://{args.host}:{args.port}/ ; "
          f"saves to {args.output}; Ctrl-C to stop", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def add_zones_parser(sub: argparse._SubParsersAction) -> None:
    zones = sub.add_parser("zones", help="help draw camera zones")
    zones_sub = zones.add_subparsers(dest="zones_command", required=True, metavar="ACTION")
    draw = zones_sub.add_parser(
        "draw", help="save a camera's first frame with a pixel grid and its zones, to read polygon coordinates",
        description="Save the first frame of a video, stream or picture with a labelled pixel grid (every "
        "50 px) and, with --camera, the zones already configured (outline in the zone kind's colour, "
        "labelled with its id). Zone polygons in camera and site files are these pixel coordinates.")
    edit = zones_sub.add_parser(
        "edit", help="draw zones with the mouse on the camera's picture, in a browser",
        description="Serve a small web page with the first frame of a video, stream or picture and, with "
        "--camera, its zones: click polygon points, name each zone and pick its kind, then save. The zones "
        "are checked as the edge checks them at start (every point inside the picture, unique ids, each "
        "zone's fields) and written to --output only when all are right: with --camera, the whole camera "
        "entry with its zones replaced (a zone keeping its id keeps its crowd/parking settings and map "
        "position); without, a bare zones: list. Use --host 0.0.0.0 to reach the page from another machine.")
    for action in (draw, edit):
        action.add_argument("--source", default=None, metavar="VIDEO_OR_IMAGE",
                            help="video file, rtsp:// / http:// URL or picture (default: the camera's source)")
        action.add_argument("--camera", type=Path, default=None, metavar="CAMERA.yaml",
                            help="the camera file whose zones to show" + (" and edit" if action is edit else ""))
    draw.add_argument("--output", type=Path, required=True, metavar="PNG", help="picture to write (.png or .jpg)")
    draw.set_defaults(handler=cmd_zones_draw)
    edit.add_argument("--output", type=Path, required=True, metavar="CAMERA.yaml",
                      help="file to write the edited camera (or zones) to; may be the --camera file itself "
                      "(its YAML comments are then lost)")
    edit.add_argument("--host", default="127.0.0.1", help="address to serve the page on (default: this machine only)")
    edit.add_argument("--port", type=int, default=8765, help="port to serve the page on (default: 8765)")
    edit.set_defaults(handler=cmd_zones_edit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridwatch",
        description="GridWatch: IoT and video-sensing ingestion for grid-based community governance.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run everything on this machine (Kafka, PostgreSQL, MQTT, edge, ingest, API)",
                        description="Start local single-node Kafka (KRaft), PostgreSQL and an MQTT broker under "
                        "one data folder, then the edge agent on a sample site, the ingest and the API. "
                        "Ctrl-C stops everything; starting again keeps what was stored.")
    up.add_argument("--data-dir", type=Path, default=Path("var"), help="where servers keep their data (default: ./var)")
    up.add_argument("--site", type=Path, default=Path("configs/sites/sample-compound.yaml"), help="site file for the edge agent")
    up.add_argument("--grids", type=Path, default=Path("configs/grids/sample-district.geojson"), help="grid map loaded at start")
    up.add_argument("--api-port", type=int, default=8080, help="port of the API and console (default 8080)")
    up.set_defaults(handler=cmd_up)

    edge = sub.add_parser("edge", help="run the edge agent of one residential compound",
                          description="Read the site's alarm buttons (MQTT) and cameras, publish alerts and "
                          "heartbeats to Kafka, spooling them on disk while Kafka is unreachable.")
    edge.add_argument("--config", type=Path, required=True, help="site file, e.g. configs/sites/sample-compound.yaml")
    edge.set_defaults(handler=cmd_edge)

    ingest = sub.add_parser("ingest", help="consume alerts and reports, raise incidents, store them",
                            description="Kafka consumer group over gridwatch.alerts, .reports and .heartbeats; "
                            "writes PostgreSQL/TimescaleDB, publishes gridwatch.incidents.")
    ingest.add_argument("--grids", type=Path, default=None, help="GeoJSON grid map to load at start (else the database's)")
    ingest.set_defaults(handler=cmd_ingest)

    api = sub.add_parser("api", help="serve the HTTP API and the dispatchers' console")
    api.add_argument("--port", type=int, default=None, help="override GRIDWATCH_API__PORT")
    api.set_defaults(handler=cmd_api)

    mig = sub.add_parser("migrate", help="apply pending database migrations (safe to repeat)")
    mig.set_defaults(handler=cmd_migrate)

    grids = sub.add_parser("grids", help="manage grid maps")
    grids_sub = grids.add_subparsers(dest="grids_command", required=True, metavar="ACTION")
    load = grids_sub.add_parser("load", help="validate a GeoJSON grid map and store it (replaces the current map)")
    load.add_argument("file", type=Path)
    load.set_defaults(handler=cmd_grids_load)

    replay = sub.add_parser("replay", help="run the incident engine over a file, with no server",
                            description="Read alerts and reports (JSON lines, arrival order), write one incident "
                            "per line. Uses event time only: the same input gives the same output.")
    replay.add_argument("--grids", type=Path, required=True, help="GeoJSON grid map")
    replay.add_argument("--input", type=Path, required=True, help="events, JSON lines")
    replay.add_argument("--output", type=Path, required=True, help="incidents, JSON lines")
    replay.add_argument("--engine-config", type=Path, default=None, help="engine rules (YAML); defaults built in")
    replay.set_defaults(handler=cmd_replay)

    add_detect_parser(sub)
    add_zones_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"gridwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
