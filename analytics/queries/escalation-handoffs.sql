-- Chat handoffs to a human agent by reason.
-- {db:Identifier} the database; {producer:String} the handoffs of one producer, or in the
-- conversations whose user turns it sent (the bot hands over under its own producer) ('' = all).
SELECT JSONExtractString(properties, 'reason') AS reason, count() AS n
FROM {db:Identifier}.events FINAL
WHERE event_type = 'handoff_requested' AND ({producer:String} = '' OR producer_id = {producer:String}
         OR conversation_id IN (SELECT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'chat_turn' AND producer_id = {producer:String}))
GROUP BY reason
ORDER BY n DESC, reason
