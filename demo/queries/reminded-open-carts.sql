-- One run's carts that got a reminder and have no order of that run: who might come back. With the
-- cart's items, the latest reminder's step and coupon (its ref), and that coupon's amount, campaign
-- and tier from coupon_issued (any run).
-- {db:Identifier} the database; {producer:String} the run's producer.
SELECT c.cart_id AS cart_id, c.user_id AS user_id, c.total AS total, c.currency AS currency,
       c.items AS items, r.coupon_code AS coupon_code, r.step AS step, i.amount AS amount,
       i.campaign AS campaign, i.tier AS tier
FROM (SELECT cart_id, any(user_id) AS user_id,
             argMaxIf(cart_total_minor, (occurred_at, sequence), event_type LIKE 'cart_item_%') AS total,
             any(currency) AS currency,
             groupArrayIf((sku, price_minor, quantity), event_type = 'cart_item_added') AS items,
             countIf(event_type = 'order_placed') AS orders
      FROM {db:Identifier}.events FINAL
      WHERE producer_id = {producer:String} AND cart_id != ''
      GROUP BY cart_id) AS c
INNER JOIN (SELECT cart_id, argMax(coupon_code, occurred_at) AS coupon_code,
                   max(JSONExtractUInt(properties, 'step')) AS step
            FROM {db:Identifier}.events FINAL
            WHERE event_type = 'reminder_sent'
              AND cart_id IN (SELECT DISTINCT cart_id FROM {db:Identifier}.events
                              WHERE producer_id = {producer:String} AND cart_id != '')
            GROUP BY cart_id) AS r
  ON r.cart_id = c.cart_id
LEFT JOIN (SELECT coupon_code, any(tier) AS tier, any(campaign_id) AS campaign,
                  any(discount_minor) AS amount
           FROM {db:Identifier}.events FINAL
           WHERE event_type = 'coupon_issued'
           GROUP BY coupon_code) AS i
  ON i.coupon_code = r.coupon_code
WHERE c.orders = 0 AND c.total > 0 AND length(c.items) > 0
ORDER BY cart_id
