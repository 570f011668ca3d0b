"""``python -m gridwatch.servers fetch-kafka``: download Kafka's jars now (CI does it before the tests)."""

from __future__ import annotations

import argparse
import sys

from gridwatch.servers.kafka import fetch_kafka
from gridwatch.servers.process import ServerError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridwatch.servers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch-kafka", help="download the Kafka jars into the cache (once) and print where they are")
    parser.parse_args(argv)
    try:
        print(fetch_kafka())
    except ServerError as exc:
        print(f"gridwatch: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
