-- Cart recovery reminders sent for one run's carts (the cart ids that producer's events carry), by
-- template, with the template's step.
-- {db:Identifier} the database; {producer:String} the run's producer.
SELECT JSONExtractString(properties, 'template') AS template,
       min(JSONExtractUInt(properties, 'step')) AS step, count() AS sent
FROM {db:Identifier}.events FINAL
WHERE event_type = 'reminder_sent'
  AND cart_id IN (SELECT DISTINCT cart_id FROM {db:Identifier}.events
                  WHERE producer_id = {producer:String} AND cart_id != '')
GROUP BY template
ORDER BY step
