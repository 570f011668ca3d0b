-- Evidence snapshots from the edge (topic gridwatch.snapshots), one per alert, served by the API as
-- GET /v1/alerts/{alert_id}/snapshot. Keyed by the alert id alone, not a hypertable: a picture is
-- looked up by its alert, and a re-sent one must land once (ON CONFLICT DO NOTHING).
-- JPEG is already compressed, so the column is stored EXTERNAL (out of line, no pglz attempt).
CREATE TABLE IF NOT EXISTS snapshots (
    alert_id    text PRIMARY KEY,
    camera_id   text NOT NULL,
    site_id     text NOT NULL DEFAULT '',
    taken_at    timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    jpeg        bytea NOT NULL CHECK (octet_length(jpeg) > 0)
);
ALTER TABLE snapshots ALTER COLUMN jpeg SET STORAGE EXTERNAL;
CREATE INDEX IF NOT EXISTS snapshots_camera_taken_idx ON snapshots (camera_id, taken_at DESC);
