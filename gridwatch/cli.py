"""The ``gridwatch`` command. Each subcommand imports its service lazily, so ``--help`` is instant
and the edge never imports the API's or the ingest's dependencies."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gridwatch.configfile import ConfigError

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
