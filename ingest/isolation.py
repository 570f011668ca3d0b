"""Finding the message that fails its batch: a backstop for input nothing refused earlier.

The ingest commits a batch's offsets only once the batch is written, and after a failure it reads
from the last committed offset again. An outage (the database or the broker gone) heals that way; a
message that fails every write (a value PostgreSQL refuses that no decoder check knew of) would
fail its batch on every retry and stop the ingest for good. So when batches fail ``ISOLATE_AFTER``
times in a row on an error about the data (not an outage, and not a fault of the code or schema,
which would fail every message alike and must stop the ingest rather than empty Kafka into dead
letters), the next ones are read a message at a time, each written before the next is read, and
the message whose own write fails so is dead-lettered with the error, its offset committed, and
the ingest goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from gridwatch.deadletter import first_line

ISOLATE_AFTER = 2  # batches in a row failed on their data before messages are read one at a time

# A value the database refuses (out of range, bad encoding, a constraint) or one the code cannot
# handle (pydantic's serialization errors are ValueErrors); not an outage (psycopg.OperationalError,
# KafkaError, OSError), nor SQL or schema faults (psycopg.ProgrammingError), which every message shares.
DATA_ERRORS = (psycopg.DataError, psycopg.IntegrityError, ValueError, TypeError, KeyError)


def caused_by_data(error: BaseException) -> bool:
    return isinstance(error, DATA_ERRORS) and not isinstance(error, OSError)


def unstorable_reason(error: BaseException) -> str:
    """The dead letter's reason for a message whose own write failed on its data."""
    return f"could not be stored: {type(error).__name__}: {first_line(error)}"


@dataclass
class Isolation:
    """How many failed batches in a row, and how many messages are still to be read one at a time."""

    span: int  # messages read singly once isolating: the batch written and the batch being prepared
    failed_in_a_row: int = 0
    left: int = 0

    @property
    def active(self) -> bool:
        return self.left > 0

    def failed(self, error: BaseException) -> bool:
        """A batch failed with ``error``; True when that starts reading one message at a time."""
        if not caused_by_data(error):
            self.failed_in_a_row = 0
            return False
        self.failed_in_a_row += 1
        if self.failed_in_a_row < ISOLATE_AFTER or self.active:
            return False
        self.left = self.span
        return True

    def written(self) -> None:
        """A batch was written: whatever failed before is behind us."""
        self.failed_in_a_row = 0

    def read_one(self) -> None:
        self.left -= 1

    def caught_up(self) -> None:
        """Nothing more to read: back to batches."""
        self.left = 0
