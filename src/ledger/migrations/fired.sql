-- Occurrences the daemon started. An occurrence whose sends all wait for their send window
-- or the daily limit has no row in `sends` yet, and a restarted daemon (or a new leader)
-- must still know to complete it.
CREATE TABLE fired (
    campaign   TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    fired_at   TEXT NOT NULL,
    PRIMARY KEY (campaign, occurrence)
);
