-- One run's carts whose shopper is in a cart flow's holdout group and has no order of that run.
-- {db:Identifier} the database; {producer:String} the run's producer.
SELECT c.cart_id AS cart_id, c.user_id AS user_id, c.total AS total, c.items AS items
FROM (SELECT cart_id, any(user_id) AS user_id,
             argMaxIf(cart_total_minor, (occurred_at, sequence), event_type LIKE 'cart_item_%') AS total,
             groupArrayIf((sku, price_minor, quantity), event_type = 'cart_item_added') AS items,
             countIf(event_type = 'order_placed') AS orders
      FROM {db:Identifier}.events FINAL
      WHERE producer_id = {producer:String} AND cart_id != ''
      GROUP BY cart_id) AS c
INNER JOIN (SELECT DISTINCT cart_id FROM {db:Identifier}.events
            WHERE event_type = 'flow_entered' AND JSONExtractBool(properties, 'holdout')) AS f
  ON f.cart_id = c.cart_id
WHERE c.orders = 0 AND c.total > 0 AND length(c.items) > 0
ORDER BY cart_id
