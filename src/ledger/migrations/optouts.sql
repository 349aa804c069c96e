-- Numbers no campaign messages: one row per normalised number (digits with the country
-- code, as in sends.recipient). The first opt-out of a number is kept: a later one of the
-- same number changes nothing, so `created_at` is when it first opted out.
CREATE TABLE optouts (
    mobile     TEXT PRIMARY KEY,
    reason     TEXT,
    -- `optout add`, `optout import FILE`, or what the API answered (an error code).
    source     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
