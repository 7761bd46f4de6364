-- The user's time zone as the producer sent it (IANA name or fixed offset; '' when not sent), for
-- analysts who bucket conversions by user-local hour: toHour(occurred_at, time_zone) needs a valid
-- IANA name, so filter on time_zone LIKE '%/%' or map offsets first.
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS time_zone LowCardinality(String) DEFAULT '' AFTER producer_id;
