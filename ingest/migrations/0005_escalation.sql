-- Escalation (ingest/escalation.py, ingest/escalator.py): an incident not acknowledged or handled
-- within its limits moves up a level. Its clocks run on wall-clock time from the latest of:
--   created_at   when the ingest stored it (not first_seen, which is event time: an edge box back
--                from an outage sends hours-old alerts, and nobody could have acknowledged those);
--                rows older than this migration start their clocks at the migration;
--   escalated_at its last escalation (NULL before the first);
--   reopened_at  its last reopening, set by the trigger below whoever reopens it (the engine on new
--                evidence, or a dispatcher), so neither writer has to remember it.
ALTER TABLE incidents ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE incidents ADD COLUMN escalated_at timestamptz;
ALTER TABLE incidents ADD COLUMN reopened_at timestamptz;

CREATE FUNCTION incidents_mark_reopened() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.reopened_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER incidents_reopened_at BEFORE UPDATE OF status ON incidents
    FOR EACH ROW WHEN (NEW.status = 'open' AND OLD.status <> 'open')
    EXECUTE FUNCTION incidents_mark_reopened();

-- The escalation runner's one query: incidents that may still escalate, by when their clocks
-- started; only those whose clocks started at least the shortest limit ago are read.
CREATE INDEX incidents_escalation_idx ON incidents ((greatest(created_at, escalated_at, reopened_at)))
    WHERE status IN ('open', 'assigned', 'in_progress') AND level <> 'district' AND merged_into IS NULL;
