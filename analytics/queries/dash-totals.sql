-- The dashboard's running totals: events stored (each once), orders and revenue (minor units).
-- {db:Identifier} the database.
SELECT count() AS events,
       countIf(event_type = 'order_placed') AS orders,
       sumIf(total_minor, event_type = 'order_placed') AS revenue_minor,
       toUInt64(toUnixTimestamp64Milli(max(ingested_at))) AS last_ingested_ms
FROM {db:Identifier}.events FINAL
