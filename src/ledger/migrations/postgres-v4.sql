-- As SQLite's version 5: the template category of each send, test sends, and the statuses
-- `capped` and `missed`.
ALTER TABLE sends ADD COLUMN category TEXT;
ALTER TABLE sends ADD COLUMN test BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sends DROP CONSTRAINT sends_status_check;
ALTER TABLE sends ADD CONSTRAINT sends_status_check
    CHECK (status IN ('in_flight', 'sent', 'failed', 'unknown', 'capped', 'missed'));
