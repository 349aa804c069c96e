CREATE TABLE sends (
    key          TEXT PRIMARY KEY,
    campaign     TEXT NOT NULL,
    file         TEXT NOT NULL,
    occurrence   TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    request      TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('in_flight', 'sent', 'failed', 'unknown')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    http_status  INTEGER,
    response     TEXT,
    error        TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX sends_by_occurrence ON sends (campaign, occurrence);
-- Partial: the common in_flight -> sent update then leaves the index alone.
CREATE INDEX sends_not_sent ON sends (status) WHERE status <> 'sent';
CREATE TABLE missed (
    campaign    TEXT NOT NULL,
    occurrence  TEXT NOT NULL,
    file        TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (campaign, occurrence)
);
CREATE TABLE holder (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    pid     BIGINT NOT NULL,
    host    TEXT NOT NULL,
    since   TEXT NOT NULL,
    command TEXT NOT NULL
);
