-- Incidents can be merged into another (a bridging or late, earlier observation joined two), and
-- machine alerts that never became an incident expire; the engine's state is rebuilt from the
-- stored observations at start, so no snapshot table is needed.
ALTER TABLE incidents ADD COLUMN merged_into text REFERENCES incidents (id);
ALTER TABLE incidents ADD COLUMN outside_grid boolean NOT NULL DEFAULT false;
CREATE INDEX incidents_merged_into_idx ON incidents (merged_into) WHERE merged_into IS NOT NULL;
ALTER TABLE alerts ADD COLUMN expired_at timestamptz;
CREATE INDEX alerts_incident_idx ON alerts (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX reports_incident_idx ON reports (incident_id) WHERE incident_id IS NOT NULL;
DROP TABLE engine_state;
