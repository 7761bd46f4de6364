-- Cart recovery per flow, for the treatment and the holdout group: carts counted as abandoned in
-- [from, to) (flow_entered: the flow publishes it at the moment the cart counts as abandoned, held-out
-- carts included), how many were recovered (an order of that cart within the window after the
-- abandonment) and the recovered revenue (minor units; the cart's orders in the window).
-- {db:Identifier} the database; {from:Float64} {to:Float64} the range, epoch seconds;
-- {window_ms:UInt64} how long after the abandonment an order counts as recovered, milliseconds.
SELECT flow, holdout, count() AS abandoned, countIf(recovered) AS recovered,
       sum(revenue) AS revenue_minor
FROM (
    SELECT a.flow AS flow, a.holdout AS holdout, a.shop_id AS shop_id, a.cart_id AS cart_id,
           countIf(o.occurred_at > a.abandoned_at
                   AND o.occurred_at <= a.abandoned_at + toIntervalMillisecond({window_ms:UInt64})) > 0
             AS recovered,
           sumIf(o.total_minor, o.occurred_at > a.abandoned_at
                   AND o.occurred_at <= a.abandoned_at + toIntervalMillisecond({window_ms:UInt64}))
             AS revenue
    FROM (
        SELECT flow, JSONExtractBool(properties, 'holdout') AS holdout, shop_id, cart_id,
               min(occurred_at) AS abandoned_at
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'flow_entered' AND cart_id != ''
          AND occurred_at >= toDateTime64({from:Float64}, 3)
          AND occurred_at < toDateTime64({to:Float64}, 3)
        GROUP BY flow, holdout, shop_id, cart_id
    ) AS a
    LEFT JOIN (
        SELECT shop_id, cart_id, occurred_at, total_minor
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'order_placed' AND cart_id != ''
          AND occurred_at >= toDateTime64({from:Float64}, 3)
    ) AS o ON o.shop_id = a.shop_id AND o.cart_id = a.cart_id
    GROUP BY flow, holdout, shop_id, cart_id
)
GROUP BY flow, holdout
ORDER BY flow, holdout
