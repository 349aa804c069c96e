CREATE TABLE sends_v2 (
    key          TEXT PRIMARY KEY,
    campaign     TEXT NOT NULL,
    file         TEXT NOT NULL,
    occurrence   TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    request      TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status = 'in_flight' OR status = 'sent'
                                     OR status = 'failed' OR status = 'unknown'),
    attempts     INTEGER NOT NULL DEFAULT 0,
    http_status  INTEGER,
    response     TEXT,
    error        TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
INSERT INTO sends_v2 (rowid, key, campaign, file, occurrence, recipient, endpoint, request,
                      request_hash, status, attempts, http_status, response, error,
                      created_at, updated_at)
    SELECT rowid, key, campaign, file, occurrence, recipient, endpoint, request,
           request_hash, status, attempts, http_status, response, error,
           created_at, updated_at
    FROM sends ORDER BY rowid;
DROP TABLE sends;
ALTER TABLE sends_v2 RENAME TO sends;
CREATE INDEX sends_by_occurrence ON sends (campaign, occurrence) WHERE occurrence <> 'once';
