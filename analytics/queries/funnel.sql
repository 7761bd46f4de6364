-- The view -> cart -> checkout -> order funnel: users reaching each step within 24 hours, in order
-- (windowFunnel over each user's strict order). The steps are report.ts's FUNNEL_STEPS, in order.
-- {db:Identifier} the database; {producer:String} one producer's events ('' = all).
SELECT countIf(level >= 1) AS s1, countIf(level >= 2) AS s2, countIf(level >= 3) AS s3,
       countIf(level >= 4) AS s4
FROM (
  SELECT user_key,
         windowFunnel(86400)(toDateTime(occurred_at), event_type = 'product_viewed',
                             event_type = 'cart_item_added', event_type = 'checkout_started',
                             event_type = 'order_placed') AS level
  FROM {db:Identifier}.events FINAL
  WHERE {producer:String} = '' OR producer_id = {producer:String}
  GROUP BY user_key
)
