-- Events by type, exact (FINAL collapses a duplicate that slipped past the sink).
-- {db:Identifier} the database; {producer:String} one producer's events ('' = all).
SELECT event_type, count() AS events
FROM {db:Identifier}.events FINAL
WHERE {producer:String} = '' OR producer_id = {producer:String}
GROUP BY event_type
ORDER BY events DESC
