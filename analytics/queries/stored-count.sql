-- Rows stored and unique events (a duplicate row counts in rows, once in unique).
-- {db:Identifier} the database; {producer:String} one producer's events ('' = all).
SELECT count() AS rows, uniqExact(event_id) AS unique
FROM {db:Identifier}.events
WHERE {producer:String} = '' OR producer_id = {producer:String}
