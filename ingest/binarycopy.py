"""COPY in PostgreSQL's binary format, for the rows the ingest writes most: new alerts and reports.

Binary rows cost the ingest a third of text rows (psycopg's C dumpers write timestamps and floats as
they are in memory; a timestamp's text alone costs more than a whole binary row) and spare
PostgreSQL parsing them. Two kinds of values arrive ready-made and are sent as they are, by dumpers
registered on the COPY's own cursor so no other statement sees them:

- ``jsonb`` from a JSON text (the message as received, or a model's dump): a version byte and the text;
- ``text[]`` already in its binary form (``text_array_binary``): a batch's grid paths repeat, so each
  is encoded once.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import Cursor, postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

JSONB_OID = postgres.types["jsonb"].oid
TEXT_OID = postgres.types["text"].oid
TEXT_ARRAY_OID = postgres.types["text"].array_oid
JSONB_VERSION = b"\x01"


class JsonText(str):
    """Registry key of the jsonb-from-text dumper (values are plain ``str``: COPY picks dumpers by type oid)."""


class EncodedArray(bytes):
    """Registry key of the ready-made array dumper (values are plain ``bytes``)."""


class JsonTextBinaryDumper(Dumper):
    format = Format.BINARY
    oid = JSONB_OID

    def dump(self, obj: str) -> bytes:
        return JSONB_VERSION + obj.encode()


class EncodedArrayBinaryDumper(Dumper):
    format = Format.BINARY
    oid = TEXT_ARRAY_OID

    def dump(self, obj: bytes) -> bytes:
        return obj


def text_array_binary(items: Sequence[str]) -> bytes:
    """PostgreSQL's binary form of a one-dimensional ``text[]`` without nulls (an empty one has no dimension)."""
    if not items:
        return struct.pack("!iiI", 0, 0, TEXT_OID)
    encoded = [item.encode() for item in items]
    header = struct.pack("!iiIii", 1, 0, TEXT_OID, len(encoded), 1)
    return header + b"".join(struct.pack("!i", len(e)) + e for e in encoded)


class PathArrays(dict[tuple[str, ...], bytes]):
    """Grid paths in binary ``text[]`` form, each encoded once."""

    def __missing__(self, path: tuple[str, ...]) -> bytes:
        self[path] = encoded = text_array_binary(path)
        return encoded


def copy_binary(cur: Cursor, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]) -> None:
    """COPY ``rows`` into ``table`` in binary, in ``cur``'s transaction. ``columns``: (name, PostgreSQL
    type) pairs; a ``jsonb`` value is a JSON text, a ``text[]`` value ``text_array_binary``'s bytes."""
    with cur.connection.cursor() as copy_cur:
        copy_cur.adapters.register_dumper(JsonText, JsonTextBinaryDumper)
        copy_cur.adapters.register_dumper(EncodedArray, EncodedArrayBinaryDumper)
        names = ", ".join(name for name, _ in columns)
        with copy_cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([type_name for _, type_name in columns])
            for row in rows:
                copy.write_row(row)
