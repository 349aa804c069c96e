-- What WhatsApp's rules need of each send: the category of its template (for frequency
-- caps by category; NULL without a template catalogue), whether it is a test send (never
-- counted as its recipient's send, nor against any limit), and two statuses of sends that
-- were not sent on purpose: `capped` (a frequency cap) and `missed` (its send window or the
-- daily limit did not open in time). SQLite cannot change a CHECK in place: the table is
-- rebuilt with the same rows, as in version 2.
CREATE TABLE sends_v5 (
    key              TEXT PRIMARY KEY,
    campaign         TEXT NOT NULL,
    file             TEXT NOT NULL,
    occurrence       TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    request          TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status = 'in_flight' OR status = 'sent'
                                         OR status = 'failed' OR status = 'unknown'
                                         OR status = 'capped' OR status = 'missed'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    http_status      INTEGER,
    response         TEXT,
    error            TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    wa_code          INTEGER,
    retry_not_before TEXT,
    category         TEXT,
    test             INTEGER NOT NULL DEFAULT 0
);
INSERT INTO sends_v5 (rowid, key, campaign, file, occurrence, recipient, endpoint, request,
                      request_hash, status, attempts, http_status, response, error,
                      created_at, updated_at, wa_code, retry_not_before)
    SELECT rowid, key, campaign, file, occurrence, recipient, endpoint, request,
           request_hash, status, attempts, http_status, response, error,
           created_at, updated_at, wa_code, retry_not_before
    FROM sends ORDER BY rowid;
DROP TABLE sends;
ALTER TABLE sends_v5 RENAME TO sends;
-- Test sends (occurrence `test-TIME`) are no occurrence: left out of the index, as `once`.
CREATE INDEX sends_by_occurrence ON sends (campaign, occurrence)
    WHERE occurrence <> 'once' AND test = 0;
