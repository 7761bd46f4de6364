-- Recovered orders: orders of one run's carts placed after the cart's first reminder (whoever
-- produced the order), and their revenue in minor units.
-- {db:Identifier} the database; {producer:String} the run's producer.
SELECT count() AS orders, sum(o.total_minor) AS revenue
FROM (SELECT cart_id, occurred_at, total_minor FROM {db:Identifier}.events FINAL
      WHERE event_type = 'order_placed'
        AND cart_id IN (SELECT DISTINCT cart_id FROM {db:Identifier}.events
                        WHERE producer_id = {producer:String} AND cart_id != '')) AS o
INNER JOIN (SELECT cart_id, min(occurred_at) AS first_reminder FROM {db:Identifier}.events FINAL
            WHERE event_type = 'reminder_sent'
              AND cart_id IN (SELECT DISTINCT cart_id FROM {db:Identifier}.events
                              WHERE producer_id = {producer:String} AND cart_id != '')
            GROUP BY cart_id) AS r
  ON r.cart_id = o.cart_id
WHERE o.occurred_at > r.first_reminder
