-- The snapshot consumer deletes pictures past ingest.snapshot_retention_days, oldest first
-- (ingest/snapshot_retention.py): an index on when they were taken keeps that a range scan.
CREATE INDEX IF NOT EXISTS snapshots_taken_idx ON snapshots (taken_at);
