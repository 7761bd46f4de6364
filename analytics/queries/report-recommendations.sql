-- Recommendations by source (interest, association_rule, popular) in [from, to): items shown
-- (impressions), clicks, and the clicks followed within 24 hours by an order of the clicked product
-- by the same user, with that order line's value (minor units; order_items, the model's view).
-- {db:Identifier} the database; {from:Float64} {to:Float64} the range, epoch seconds.
SELECT source, sum(impressions) AS impressions, sum(clicks) AS clicks, sum(converted) AS orders_24h,
       sum(revenue) AS revenue_minor
FROM (
    SELECT JSONExtractString(item, 'source') AS source, count() AS impressions, 0 AS clicks,
           0 AS converted, toInt64(0) AS revenue
    FROM {db:Identifier}.events FINAL
    ARRAY JOIN JSONExtractArrayRaw(properties, 'items') AS item
    WHERE event_type = 'recommendation_shown'
      AND occurred_at >= toDateTime64({from:Float64}, 3) AND occurred_at < toDateTime64({to:Float64}, 3)
    GROUP BY source
    UNION ALL
    SELECT source, 0 AS impressions, count() AS clicks, countIf(converted) AS converted, sum(revenue) AS revenue
    FROM (
        SELECT c.source AS source, c.event_id AS click,
               countIf(o.occurred_at > c.clicked_at AND o.occurred_at <= c.clicked_at + INTERVAL 24 HOUR) > 0
                 AS converted,
               sumIf(o.line_minor, o.occurred_at > c.clicked_at AND o.occurred_at <= c.clicked_at + INTERVAL 24 HOUR)
                 AS revenue
        FROM (
            SELECT event_id, shop_id, user_key, JSONExtractString(properties, 'source') AS source,
                   JSONExtractString(properties, 'sku') AS sku, occurred_at AS clicked_at
            FROM {db:Identifier}.events FINAL
            WHERE event_type = 'recommendation_clicked'
              AND occurred_at >= toDateTime64({from:Float64}, 3) AND occurred_at < toDateTime64({to:Float64}, 3)
        ) AS c
        LEFT JOIN {db:Identifier}.order_items AS o ON o.shop_id = c.shop_id AND o.user_key = c.user_key AND o.sku = c.sku
        GROUP BY source, click
    )
    GROUP BY source
)
GROUP BY source
ORDER BY source
