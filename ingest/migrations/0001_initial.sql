-- GridWatch schema, plain PostgreSQL. 0002 turns the time-series tables into TimescaleDB
-- hypertables when the extension is present; nothing here depends on it.
-- Time-series tables key on (id, time) because a hypertable's unique keys must hold its time column;
-- an alert re-sent with the same id carries the same time, so it still lands once.

CREATE TABLE grids (
    id          text PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    level       text NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid', 'micro_grid')),
    parent_id   text,
    geometry    jsonb NOT NULL,
    properties  jsonb NOT NULL DEFAULT '{}'::jsonb,
    map_version text NOT NULL,
    ord         integer NOT NULL,  -- position in the source file: ties on shared borders go by map order
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grids_parent_idx ON grids (parent_id);

CREATE TABLE alerts (
    id          text NOT NULL,
    observed_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    category    text NOT NULL,
    type        text NOT NULL,
    device_id   text NOT NULL,
    site_id     text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    confidence  real NOT NULL,
    grid_id     text,
    grid_path   text[] NOT NULL DEFAULT '{}',
    incident_id text,
    payload     jsonb NOT NULL,
    PRIMARY KEY (id, observed_at)
);
CREATE INDEX alerts_time_idx ON alerts (observed_at DESC);
CREATE INDEX alerts_grid_time_idx ON alerts (grid_id, observed_at DESC);
CREATE INDEX alerts_device_time_idx ON alerts (device_id, observed_at DESC);

CREATE TABLE reports (
    id          text NOT NULL,
    reported_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    category    text NOT NULL,
    worker_id   text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    text        text NOT NULL DEFAULT '',
    grid_id     text,
    grid_path   text[] NOT NULL DEFAULT '{}',
    incident_id text,
    payload     jsonb NOT NULL,
    PRIMARY KEY (id, reported_at)
);
CREATE INDEX reports_time_idx ON reports (reported_at DESC);
CREATE INDEX reports_grid_time_idx ON reports (grid_id, reported_at DESC);

CREATE TABLE device_heartbeats (
    device_id   text NOT NULL,
    seen_at     timestamptz NOT NULL,
    site_id     text NOT NULL,
    device_type text NOT NULL,
    status      text NOT NULL,
    attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (device_id, seen_at)
);
CREATE INDEX device_heartbeats_time_idx ON device_heartbeats (seen_at DESC);

-- Latest state per device, kept current by the ingest from heartbeats and device alerts.
CREATE TABLE devices (
    device_id   text PRIMARY KEY,
    site_id     text NOT NULL,
    device_type text NOT NULL,
    status      text NOT NULL,
    last_seen   timestamptz NOT NULL,
    attributes  jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE incidents (
    id          text PRIMARY KEY,
    category    text NOT NULL,
    grid_id     text,
    grid_path   text[] NOT NULL DEFAULT '{}',
    status      text NOT NULL CHECK (status IN ('open', 'assigned', 'in_progress', 'resolved', 'closed', 'dismissed')),
    risk        text NOT NULL CHECK (risk IN ('red', 'orange', 'yellow', 'blue', 'green')),
    level       text NOT NULL CHECK (level IN ('grid', 'community', 'street', 'district')),
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    alert_ids   text[] NOT NULL DEFAULT '{}',
    report_ids  text[] NOT NULL DEFAULT '{}',
    members     jsonb NOT NULL DEFAULT '[]'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incidents_status_idx ON incidents (status, last_seen DESC);
CREATE INDEX incidents_grid_idx ON incidents (grid_id, last_seen DESC);
CREATE INDEX incidents_updated_idx ON incidents (updated_at DESC);

CREATE TABLE incident_history (
    incident_id text NOT NULL REFERENCES incidents (id),
    seq         integer NOT NULL,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    status      text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, seq)
);

-- Incident changes waiting to be published to gridwatch.incidents (transactional outbox).
CREATE TABLE incident_outbox (
    seq          bigserial PRIMARY KEY,
    incident_id  text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX incident_outbox_pending_idx ON incident_outbox (seq) WHERE published_at IS NULL;

-- The incident engine's state, written in the same transaction as the effects of a batch.
CREATE TABLE engine_state (
    name       text PRIMARY KEY,
    state      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Everything rejected anywhere (MQTT, Kafka, API), with the reason, for operators to inspect.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL,
    topic       text,
    partition   integer,
    "offset"    bigint,
    key         text,
    reason      text NOT NULL,
    payload     text NOT NULL,
    context     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX dead_letters_time_idx ON dead_letters (received_at DESC);
CREATE UNIQUE INDEX dead_letters_kafka_uq ON dead_letters (topic, partition, "offset") WHERE "offset" IS NOT NULL;
