-- Periodic snapshots of each changed user's interest profile, to join with conversions
-- (user_key is the events table's user_key).
CREATE TABLE IF NOT EXISTS {db}.interest_snapshots
(
    shop_id        LowCardinality(String),
    user_key       String,
    taken_at       DateTime64(3, 'UTC'),
    tier           LowCardinality(String),
    tags           Array(LowCardinality(String)),
    top_category   LowCardinality(String),
    top_short      Array(Tuple(feature String, weight Float64)) COMMENT 'short-term interests at taken_at',
    top_long       Array(Tuple(feature String, weight Float64)) COMMENT 'long-term interests at taken_at',
    events         UInt32,
    orders         UInt32,
    spend_minor    Int64,
    last_event_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(taken_at)
ORDER BY (shop_id, user_key, taken_at);
