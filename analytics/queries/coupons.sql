-- Coupons issued since a time, by campaign and tier: how many, their face value, how many were
-- redeemed and the discount given (minor units). One row per code (the events carry its ref).
-- {db:Identifier} the database; {since:Float64} Unix time in seconds.
SELECT i.campaign_id AS campaign, i.tier AS tier, count() AS issued, sum(i.amount) AS issued_minor,
       countIf(r.coupon_code != '') AS redeemed, sum(r.discount) AS discount
FROM (SELECT coupon_code, any(campaign_id) AS campaign_id, any(tier) AS tier,
             any(discount_minor) AS amount
      FROM {db:Identifier}.events FINAL
      WHERE event_type = 'coupon_issued' AND occurred_at >= toDateTime64({since:Float64}, 3)
      GROUP BY coupon_code) AS i
LEFT JOIN (SELECT coupon_code, any(discount_minor) AS discount FROM {db:Identifier}.events FINAL
           WHERE event_type = 'coupon_redeemed' GROUP BY coupon_code) AS r
  ON r.coupon_code = i.coupon_code
GROUP BY campaign, tier
ORDER BY campaign, tier
