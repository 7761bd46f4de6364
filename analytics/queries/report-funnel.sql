-- The view -> cart -> checkout -> order funnel by the day and channel of each user's entry: a user
-- whose product view in [from, to) starts it counts once, on the day and channel of that first view,
-- with the furthest step reached in order within the conversion window (windowFunnel over time in
-- milliseconds). The range bounds the entry step only: a cart, checkout or order after `to` but within
-- the window of an entry still counts.
-- {db:Identifier} the database; {from:Float64} {to:Float64} the entry range, epoch seconds;
-- {window_ms:UInt64} the conversion window in milliseconds.
SELECT toString(day) AS day, channel, count() AS viewed, countIf(level >= 2) AS carted,
       countIf(level >= 3) AS checked_out, countIf(level >= 4) AS ordered
FROM (
    SELECT user_key,
           toDate(minIf(occurred_at, entry)) AS day,
           argMinIf(channel, occurred_at, entry) AS channel,
           windowFunnel({window_ms:UInt64})(toUInt64(toUnixTimestamp64Milli(occurred_at)), entry,
                                            event_type = 'cart_item_added',
                                            event_type = 'checkout_started',
                                            event_type = 'order_placed') AS level
    FROM (
        SELECT user_key, occurred_at, channel, event_type,
               event_type = 'product_viewed'
                 AND occurred_at >= toDateTime64({from:Float64}, 3)
                 AND occurred_at < toDateTime64({to:Float64}, 3) AS entry
        FROM {db:Identifier}.events FINAL
        WHERE event_type IN ('product_viewed', 'cart_item_added', 'checkout_started', 'order_placed')
          AND occurred_at >= toDateTime64({from:Float64}, 3)
          AND occurred_at < toDateTime64({to:Float64}, 3) + toIntervalMillisecond({window_ms:UInt64})
    )
    GROUP BY user_key
    HAVING countIf(entry) > 0
)
GROUP BY day, channel
ORDER BY day, channel
