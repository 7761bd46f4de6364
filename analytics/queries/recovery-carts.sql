-- One run's carts that got at least one reminder.
-- {db:Identifier} the database; {producer:String} the run's producer.
SELECT uniqExact(cart_id) AS carts
FROM {db:Identifier}.events
WHERE event_type = 'reminder_sent'
  AND cart_id IN (SELECT DISTINCT cart_id FROM {db:Identifier}.events
                  WHERE producer_id = {producer:String} AND cart_id != '')
