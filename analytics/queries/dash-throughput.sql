-- Events stored per 10 seconds by type since a moment, by when the sink stored them (ingested_at): the
-- live pipeline's throughput (a replayed or late event counts when it arrives).
-- {db:Identifier} the database; {since:Float64} epoch seconds.
SELECT toUInt32(toUnixTimestamp(toStartOfInterval(ingested_at, INTERVAL 10 SECOND))) AS t,
       event_type, count() AS events
FROM {db:Identifier}.events
WHERE ingested_at >= toDateTime64({since:Float64}, 3)
GROUP BY t, event_type
ORDER BY t, event_type
