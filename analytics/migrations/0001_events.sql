-- Every event, one row, deduplicated by event_id.
-- * The sort key gives each user's events a strict total order: time, then the producer's sequence,
--   then the time-ordered event_id (ties between producers in the same millisecond).
-- * ReplacingMergeTree keeps one row per sort key; since event_id is in it and the rest of the key
--   derives from the same event, a duplicate that slipped past the sink collapses on merge
--   (query with FINAL, or uniqExact(event_id), where exact counts matter).
-- * non_replicated_deduplication_window lets a retried insert with the same insert_deduplication_token
--   be dropped by the server.
CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id         String,
    event_type       LowCardinality(String),
    schema_version   UInt16,
    shop_id          LowCardinality(String),
    user_key         String COMMENT 'user_id, or anon:<anonymous_id> before login: the per-user order key',
    user_id          String,
    anonymous_id     String,
    session_id       String,
    channel          LowCardinality(String),
    occurred_at      DateTime64(3, 'UTC'),
    sequence         UInt64,
    producer_id      LowCardinality(String),
    sku              String,
    product_id       String,
    category         LowCardinality(String),
    brand            LowCardinality(String),
    price_minor      Int64,
    quantity         UInt32,
    cart_id          String,
    cart_total_minor Int64,
    order_id         String,
    total_minor      Int64,
    discount_minor   Int64,
    coupon_code      String,
    currency         LowCardinality(String),
    search_query     String,
    result_count     UInt32,
    conversation_id  String,
    chat_role        LowCardinality(String),
    chat_text        String,
    flow             LowCardinality(String),
    workflow_id      String,
    campaign_id      String,
    tier             LowCardinality(String),
    properties       String COMMENT 'the whole payload as JSON (snake_case names)',
    stream_seq       UInt64 COMMENT 'JetStream sequence of the first stored copy',
    ingested_at      DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_event_id event_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (shop_id, user_key, occurred_at, sequence, event_id)
SETTINGS non_replicated_deduplication_window = 1000;
