-- A campaign's coupons issued since a time and not redeemed: one row per code (its ref), with the
-- user, tier and amount.
-- {db:Identifier} the database; {campaign:String} the campaign; {since:Float64} Unix time in seconds.
SELECT any(user_id) AS user_id, coupon_code AS code, any(tier) AS tier, any(discount_minor) AS amount
FROM {db:Identifier}.events FINAL
WHERE event_type = 'coupon_issued' AND campaign_id = {campaign:String}
  AND occurred_at >= toDateTime64({since:Float64}, 3)
  AND coupon_code NOT IN (SELECT coupon_code FROM {db:Identifier}.events
                          WHERE event_type = 'coupon_redeemed')
GROUP BY coupon_code
ORDER BY coupon_code
