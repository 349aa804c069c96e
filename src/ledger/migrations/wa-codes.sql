-- What WhatsApp said of a send (plain SQL both backends understand): the error code of its
-- last answer, when campaignctl knows it, and the instant before which it is not sent
-- again (a WhatsApp limit said so), in the format of `updated_at`. Both NULL otherwise.
ALTER TABLE sends ADD COLUMN wa_code INTEGER;
ALTER TABLE sends ADD COLUMN retry_not_before TEXT;
