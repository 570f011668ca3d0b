"""Which incident each stored observation points at, as this worker last wrote it.

Every batch the engine hands back the whole member list of each incident it touched; writing all of
them again costs a join of thousands of ids against ``alerts`` per batch, though nearly all are
linked already. The mirror keeps ``observation id -> incident id`` for what the worker wrote, so only
the links that differ go to the database. It is the worker's own (the ingest is the only writer of
``alerts.incident_id`` and ``reports.incident_id``), changed only after the transaction that wrote
the links commits, and emptied when a batch fails; an empty or trimmed mirror only means links are
written again, which is harmless (the UPDATE skips rows already right).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gridwatch.contracts import Incident

Links = dict[str, list[tuple[str, str]]]  # table -> (observation id, incident id)
TABLES = ("alerts", "reports")


@dataclass
class LinkMirror:
    limit: int = 500_000  # entries per table; past it the mirror starts again from empty
    _stored: dict[str, dict[str, str]] = field(default_factory=lambda: {t: {} for t in TABLES})

    def changed(self, incidents: Iterable[Incident]) -> Links:
        """The links of ``incidents`` that are not stored as such yet (as far as the mirror knows);
        an observation listed by two incidents goes with the later one."""
        wanted: dict[str, dict[str, str]] = {t: {} for t in TABLES}
        for incident in incidents:
            wanted["alerts"].update(dict.fromkeys(incident.alert_ids, incident.id))
            wanted["reports"].update(dict.fromkeys(incident.report_ids, incident.id))
        return {table: [(i, incident_id) for i, incident_id in pairs.items() if self._stored[table].get(i) != incident_id]
                for table, pairs in wanted.items()}

    def remember(self, links: Links) -> None:
        """Call once the transaction that wrote ``links`` has committed."""
        for table, pairs in links.items():
            stored = self._stored[table]
            if len(stored) + len(pairs) > self.limit:
                stored.clear()
            stored.update(pairs)

    def forget(self) -> None:
        """After a failed batch: what the database holds is no longer known."""
        for stored in self._stored.values():
            stored.clear()

    def __len__(self) -> int:
        return sum(len(s) for s in self._stored.values())
