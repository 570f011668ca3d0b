"""A resumable cursor over ``incident_outbox.seq`` that does not skip late commits.

``seq`` is a bigserial: numbers are handed out when a row is inserted, not when its transaction
commits. A reader that simply remembers "the highest seq I saw" skips a row whose transaction took
a number early and committed late (seq 10 becomes visible after 11). So the cursor keeps a
*watermark*: every seq at or below it has been sent or has stayed missing for ``gap_grace_s``
(a rolled-back insert leaves a hole forever). Rows above a hole are sent at once; only the watermark
waits. The watermark is what a client resumes from (SSE ``id:``), so a reconnect may repeat a few
changes but never loses one. Repeats are harmless: each event carries the incident's current state.

Pure: the caller passes the rows it read and the time, so tests need no clock and no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_GAP_GRACE_S = 30.0


@dataclass
class OutboxCursor:
    watermark: int
    gap_grace_s: float = DEFAULT_GAP_GRACE_S
    _sent: set[int] = field(default_factory=set)
    _gap_seen_at: dict[int, float] = field(default_factory=dict)

    @property
    def sent_above_watermark(self) -> frozenset[int]:
        """Seqs already sent but not yet under the watermark (a reader need not fetch them again)."""
        return frozenset(self._sent)

    def advance(self, seqs: Iterable[int], now: float) -> list[int]:
        """Take the seqs visible now above the watermark; return those not sent before, ascending.

        >>> c = OutboxCursor(watermark=9)
        >>> c.advance([11, 12], now=0.0), c.watermark
        ([11, 12], 9)
        >>> c.advance([10, 11, 12], now=1.0), c.watermark
        ([10], 12)
        """
        new = sorted({s for s in seqs if s > self.watermark} - self._sent)
        self._sent.update(new)
        self._note_gaps(now)
        self._raise_watermark(now)
        return new

    def _note_gaps(self, now: float) -> None:
        top = max(self._sent, default=self.watermark)
        for seq in range(self.watermark + 1, top):
            if seq not in self._sent:
                self._gap_seen_at.setdefault(seq, now)

    def _raise_watermark(self, now: float) -> None:
        while True:
            nxt = self.watermark + 1
            if nxt in self._sent:
                self._sent.discard(nxt)
            elif nxt in self._gap_seen_at and now - self._gap_seen_at[nxt] >= self.gap_grace_s:
                del self._gap_seen_at[nxt]  # waited long enough: a rolled-back insert
            else:
                return
            self._gap_seen_at.pop(nxt, None)
            self.watermark = nxt
