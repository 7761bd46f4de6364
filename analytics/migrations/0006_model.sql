-- The analysts' model on top of `events` (docs: analytics/README.md). Views are computed from
-- `events FINAL` at query time, so they are always exactly what the events say; `events_hourly` is a
-- rollup table filled as events arrive and rebuilt from events by `shopstream model backfill`;
-- `catalog_products` is the catalog, loaded by the pipeline service at start and by the backfill.

-- The catalog: category and brand for order items whose event did not carry them.
CREATE TABLE IF NOT EXISTS {db}.catalog_products
(
    sku         String,
    category    LowCardinality(String),
    brand       LowCardinality(String),
    price_minor Int64,
    loaded_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY sku;

-- One row per product line of an order; category and brand from the event, else from the catalog.
CREATE VIEW IF NOT EXISTS {db}.order_items AS
SELECT
    o.shop_id AS shop_id,
    o.order_id AS order_id,
    o.user_key AS user_key,
    o.occurred_at AS occurred_at,
    o.channel AS channel,
    o.sku AS sku,
    o.quantity AS quantity,
    o.price_minor AS price_minor,
    toInt64(o.quantity) * o.price_minor AS line_minor,
    if(o.category != '', o.category, c.category) AS category,
    if(o.brand != '', o.brand, c.brand) AS brand
FROM
(
    SELECT shop_id, order_id, user_key, occurred_at, channel,
           JSONExtractString(item, 'sku') AS sku,
           greatest(JSONExtractUInt(item, 'quantity'), 1) AS quantity,
           JSONExtractInt(item, 'price_minor') AS price_minor,
           JSONExtractString(item, 'category') AS category,
           JSONExtractString(item, 'brand') AS brand
    FROM {db}.events FINAL
    ARRAY JOIN JSONExtractArrayRaw(properties, 'products') AS item
    WHERE event_type = 'order_placed'
) AS o
LEFT JOIN (SELECT sku, argMax(category, loaded_at) AS category, argMax(brand, loaded_at) AS brand
           FROM {db}.catalog_products GROUP BY sku) AS c ON c.sku = o.sku;

-- One row per order, with its latest fulfilment status.
CREATE VIEW IF NOT EXISTS {db}.orders AS
SELECT
    shop_id,
    order_id,
    argMinIf(user_key, occurred_at, event_type = 'order_placed') AS user_key,
    minIf(occurred_at, event_type = 'order_placed') AS placed_at,
    argMinIf(channel, occurred_at, event_type = 'order_placed') AS channel,
    argMinIf(cart_id, occurred_at, event_type = 'order_placed') AS cart_id,
    maxIf(total_minor, event_type = 'order_placed') AS total_minor,
    maxIf(discount_minor, event_type = 'order_placed') AS discount_minor,
    argMinIf(coupon_code, occurred_at, event_type = 'order_placed') AS coupon_code,
    minIf(occurred_at, event_type = 'order_paid') AS paid_at,
    minIf(occurred_at, event_type = 'order_shipped') AS shipped_at,
    minIf(occurred_at, event_type = 'order_delivered') AS delivered_at,
    minIf(occurred_at, event_type = 'order_refunded') AS refunded_at,
    multiIf(countIf(event_type = 'order_refunded') > 0, 'refunded',
            countIf(event_type = 'order_delivered') > 0, 'delivered',
            countIf(event_type = 'order_shipped') > 0, 'shipped',
            countIf(event_type = 'order_paid') > 0, 'paid', 'placed') AS status
FROM {db}.events FINAL
WHERE order_id != ''
  AND event_type IN ('order_placed', 'order_paid', 'order_shipped', 'order_delivered', 'order_refunded')
GROUP BY shop_id, order_id
HAVING countIf(event_type = 'order_placed') > 0;

-- Each flow's decision about a user (flow_entered): treatment or holdout; for a cart flow, the moment
-- the cart counted as abandoned.
CREATE VIEW IF NOT EXISTS {db}.flow_entries AS
SELECT shop_id, user_key, user_id, flow, workflow_id, cart_id, tier,
       toBool(JSONExtractBool(properties, 'holdout')) AS holdout,
       JSONExtractUInt(properties, 'flow_version') AS flow_version,
       occurred_at AS entered_at
FROM {db}.events FINAL
WHERE event_type = 'flow_entered';

-- Messages the flows sent (reminder_sent), with the group their flow put the user in.
CREATE VIEW IF NOT EXISTS {db}.messages_sent AS
SELECT m.shop_id AS shop_id, m.user_key AS user_key, m.flow AS flow, m.workflow_id AS workflow_id,
       JSONExtractUInt(m.properties, 'step') AS step,
       JSONExtractString(m.properties, 'template') AS template,
       JSONExtractString(m.properties, 'delivery_channel') AS delivery_channel,
       m.cart_id AS cart_id, m.coupon_code AS coupon_code, m.occurred_at AS sent_at,
       toBool(f.holdout) AS holdout
FROM {db}.events AS m FINAL
LEFT JOIN (SELECT workflow_id, any(JSONExtractBool(properties, 'holdout')) AS holdout
           FROM {db}.events FINAL WHERE event_type = 'flow_entered' GROUP BY workflow_id) AS f
    ON f.workflow_id = m.workflow_id
WHERE m.event_type = 'reminder_sent';

-- One row per cart: what was added, when it counted as abandoned, the reminders it got, and its
-- outcome: ordered (never abandoned), recovered (ordered after it was abandoned), abandoned, or open.
CREATE VIEW IF NOT EXISTS {db}.carts AS
SELECT
    c.shop_id AS shop_id,
    c.cart_id AS cart_id,
    c.user_key AS user_key,
    c.first_added_at AS first_added_at,
    c.items_added AS items_added,
    c.cart_total_minor AS cart_total_minor,
    a.abandoned_at AS abandoned_at,
    toBool(a.holdout) AS holdout,
    r.reminders AS reminders,
    o.ordered_at AS ordered_at,
    o.order_total_minor AS order_total_minor,
    multiIf(o.found = 0, if(a.found = 0, 'open', 'abandoned'),
            a.found = 0 OR o.ordered_at < a.abandoned_at, 'ordered', 'recovered') AS outcome,
    -- the last reminder step sent before the order (0: none)
    if(outcome = 'recovered', arrayLast(x -> x.1 < o.ordered_at, r.sent).2, 0) AS recovered_by_step
FROM
(
    SELECT shop_id, cart_id, argMin(user_key, occurred_at) AS user_key, min(occurred_at) AS first_added_at,
           countIf(event_type = 'cart_item_added') AS items_added,
           argMax(cart_total_minor, occurred_at) AS cart_total_minor
    FROM {db}.events FINAL
    WHERE cart_id != '' AND event_type IN ('cart_item_added', 'cart_item_removed', 'cart_item_quantity_changed')
    GROUP BY shop_id, cart_id
) AS c
LEFT JOIN (SELECT shop_id, cart_id, min(occurred_at) AS abandoned_at, 1 AS found,
                  any(JSONExtractBool(properties, 'holdout')) AS holdout
           FROM {db}.events FINAL WHERE event_type = 'flow_entered' AND cart_id != ''
           GROUP BY shop_id, cart_id) AS a ON a.shop_id = c.shop_id AND a.cart_id = c.cart_id
LEFT JOIN (SELECT shop_id, cart_id, min(occurred_at) AS ordered_at, 1 AS found,
                  argMin(total_minor, occurred_at) AS order_total_minor
           FROM {db}.events FINAL WHERE event_type = 'order_placed' AND cart_id != ''
           GROUP BY shop_id, cart_id) AS o ON o.shop_id = c.shop_id AND o.cart_id = c.cart_id
LEFT JOIN (SELECT shop_id, cart_id, count() AS reminders,
                  arraySort(groupArray((occurred_at, JSONExtractUInt(properties, 'step')))) AS sent
           FROM {db}.events FINAL WHERE event_type = 'reminder_sent' AND cart_id != ''
           GROUP BY shop_id, cart_id) AS r ON r.shop_id = c.shop_id AND r.cart_id = c.cart_id;

-- One row per coupon (by its ref): issued, and redeemed if it was.
CREATE VIEW IF NOT EXISTS {db}.coupons AS
SELECT i.shop_id AS shop_id, i.coupon_code AS coupon_code, i.user_key AS user_key,
       i.campaign_id AS campaign_id, i.tier AS tier, i.issued_at AS issued_at, i.amount_minor AS amount_minor,
       i.expires_at AS expires_at, toBool(r.found = 1) AS redeemed, r.redeemed_at AS redeemed_at,
       r.order_id AS order_id, r.discount_minor AS discount_minor
FROM (SELECT shop_id, coupon_code, argMin(user_key, occurred_at) AS user_key, any(campaign_id) AS campaign_id,
             any(tier) AS tier, min(occurred_at) AS issued_at, any(discount_minor) AS amount_minor,
             any(JSONExtractInt(properties, 'expires_at')) AS expires_at
      FROM {db}.events FINAL WHERE event_type = 'coupon_issued' GROUP BY shop_id, coupon_code) AS i
LEFT JOIN (SELECT shop_id, coupon_code, 1 AS found, min(occurred_at) AS redeemed_at, any(order_id) AS order_id,
                  any(discount_minor) AS discount_minor
           FROM {db}.events FINAL WHERE event_type = 'coupon_redeemed' GROUP BY shop_id, coupon_code) AS r
    ON r.shop_id = i.shop_id AND r.coupon_code = i.coupon_code;

-- One row per conversation: its turns, the bot's first response, whether a human took it, and when
-- it closed (contained: never handed to a human).
CREATE VIEW IF NOT EXISTS {db}.conversations AS
SELECT t.shop_id AS shop_id, t.conversation_id AS conversation_id,
       argMinIf(t.user_key, t.occurred_at, t.role = 'user') AS user_key,
       argMinIf(t.channel, t.occurred_at, t.role = 'user') AS channel,
       minIf(t.occurred_at, t.role = 'user') AS started_at,
       countIf(t.role = 'user') AS user_turns,
       countIf(t.role = 'bot') AS bot_turns,
       countIf(t.role = 'agent') AS agent_turns,
       countIf(t.role = 'bot' AND t.answered) AS answered,
       argMinIf(t.latency_ms, t.occurred_at, t.role = 'bot') AS first_response_ms,
       toBool(max(h.found) = 1) AS handed_over,
       max(c.closed_at) AS closed_at,
       toBool(NOT handed_over) AS contained
FROM {db}.chat_turns AS t
LEFT JOIN (SELECT DISTINCT shop_id, conversation_id, 1 AS found FROM {db}.events FINAL
           WHERE event_type = 'handoff_requested') AS h
    ON h.shop_id = t.shop_id AND h.conversation_id = t.conversation_id
LEFT JOIN (SELECT shop_id, conversation_id, min(occurred_at) AS closed_at FROM {db}.events FINAL
           WHERE event_type = 'conversation_closed' GROUP BY shop_id, conversation_id) AS c
    ON c.shop_id = t.shop_id AND c.conversation_id = t.conversation_id
GROUP BY shop_id, conversation_id
HAVING user_turns > 0;

-- One row per session (session_id as the client sent it).
CREATE VIEW IF NOT EXISTS {db}.sessions AS
SELECT shop_id, session_id, argMin(user_key, occurred_at) AS user_key, argMin(channel, occurred_at) AS channel,
       min(occurred_at) AS started_at, max(occurred_at) AS ended_at, count() AS events,
       countIf(event_type = 'product_viewed') AS views, countIf(event_type = 'cart_item_added') AS cart_adds,
       countIf(event_type = 'order_placed') AS orders,
       sumIf(total_minor, event_type = 'order_placed') AS revenue_minor
FROM {db}.events FINAL
WHERE session_id != ''
GROUP BY shop_id, session_id;

-- Hourly rollup for dashboards: events, users and revenue per hour, shop, type and channel. Filled by
-- events_hourly_mv as events are inserted (rows as inserted: a duplicate that slipped past the sink
-- counts until `shopstream model backfill` rebuilds it from events FINAL). Query with sum() and
-- uniqMerge(users) GROUP BY.
CREATE TABLE IF NOT EXISTS {db}.events_hourly
(
    hour          DateTime('UTC'),
    shop_id       LowCardinality(String),
    event_type    LowCardinality(String),
    channel       LowCardinality(String),
    events        SimpleAggregateFunction(sum, UInt64),
    users         AggregateFunction(uniq, String),
    revenue_minor SimpleAggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (shop_id, hour, event_type, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_hourly_mv TO {db}.events_hourly AS
SELECT toStartOfHour(occurred_at) AS hour, shop_id, event_type, channel, count() AS events,
       uniqState(user_key) AS users, sumIf(total_minor, event_type = 'order_placed') AS revenue_minor
FROM {db}.events
GROUP BY hour, shop_id, event_type, channel;
