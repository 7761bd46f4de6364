-- Each flow's uplift: users who entered it since a time, in the treatment and in the holdout group
-- (flow_entered), and how many of them converted: ordered after entering (a cart flow: that cart).
-- {db:Identifier} the database; {since:Float64} Unix time in seconds.
SELECT flow, holdout, count() AS entered, countIf(converted) AS converted
FROM (SELECT f.flow AS flow, f.holdout AS holdout, f.user_id AS user_id, f.cart_id AS cart_id,
             max(o.occurred_at > f.entered AND (f.cart_id = '' OR o.cart_id = f.cart_id)) AS converted
      FROM (SELECT flow, JSONExtractBool(properties, 'holdout') AS holdout, user_id, cart_id,
                   min(occurred_at) AS entered
            FROM {db:Identifier}.events FINAL
            WHERE event_type = 'flow_entered' AND occurred_at >= toDateTime64({since:Float64}, 3)
            GROUP BY flow, holdout, user_id, cart_id) AS f
      LEFT JOIN (SELECT user_id, cart_id, occurred_at FROM {db:Identifier}.events FINAL
                 WHERE event_type = 'order_placed'
                   AND occurred_at >= toDateTime64({since:Float64}, 3)) AS o
        ON o.user_id = f.user_id
      GROUP BY flow, holdout, user_id, cart_id)
GROUP BY flow, holdout
ORDER BY flow, holdout
