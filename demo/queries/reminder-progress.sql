-- Reminders so far for one run's carts: all, and those carrying a coupon (the demo waits for them
-- to settle).
-- {db:Identifier} the database; {producer:String} the run's producer.
SELECT count() AS reminders, countIf(coupon_code != '') AS coupons
FROM {db:Identifier}.events
WHERE event_type = 'reminder_sent'
  AND cart_id IN (SELECT DISTINCT cart_id FROM {db:Identifier}.events
                  WHERE producer_id = {producer:String} AND cart_id != '')
