-- Coupons issued in [from, to) by campaign and tier: how many and their face value, how many were
-- redeemed, the discount given, and the revenue of the orders they were redeemed on (minor units).
-- One row per code (the events carry its ref); a redemption counts whenever it happens.
-- {db:Identifier} the database; {from:Float64} {to:Float64} the range, epoch seconds.
SELECT i.campaign_id AS campaign, i.tier AS tier, count() AS issued, sum(i.amount) AS issued_minor,
       countIf(r.coupon_code != '') AS redeemed, sum(r.discount) AS discount_minor,
       sum(o.total) AS revenue_minor
FROM (
    SELECT coupon_code, any(campaign_id) AS campaign_id, any(tier) AS tier,
           any(discount_minor) AS amount
    FROM {db:Identifier}.events FINAL
    WHERE event_type = 'coupon_issued'
      AND occurred_at >= toDateTime64({from:Float64}, 3)
      AND occurred_at < toDateTime64({to:Float64}, 3)
    GROUP BY coupon_code
) AS i
LEFT JOIN (
    SELECT coupon_code, any(order_id) AS order_id, any(discount_minor) AS discount
    FROM {db:Identifier}.events FINAL
    WHERE event_type = 'coupon_redeemed'
    GROUP BY coupon_code
) AS r ON r.coupon_code = i.coupon_code
LEFT JOIN (
    SELECT order_id, any(total_minor) AS total
    FROM {db:Identifier}.events FINAL
    WHERE event_type = 'order_placed'
    GROUP BY order_id
) AS o ON o.order_id = r.order_id
GROUP BY campaign, tier
ORDER BY campaign, tier
