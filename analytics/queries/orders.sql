-- Orders, revenue (minor units) and abandoned carts (carts with no order_placed).
-- {db:Identifier} the database; {producer:String} one producer's events ('' = all).
SELECT
  countIf(event_type = 'order_placed') AS orders,
  sumIf(total_minor, event_type = 'order_placed') AS revenue,
  (SELECT count() FROM (
     SELECT cart_id FROM {db:Identifier}.events FINAL
     WHERE ({producer:String} = '' OR producer_id = {producer:String}) AND cart_id != ''
     GROUP BY cart_id HAVING countIf(event_type = 'order_placed') = 0)) AS abandoned
FROM {db:Identifier}.events FINAL
WHERE {producer:String} = '' OR producer_id = {producer:String}
