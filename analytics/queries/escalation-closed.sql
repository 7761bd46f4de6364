-- Handed-off conversations by how they closed.
-- {db:Identifier} the database; {producer:String} the handoffs of one producer, or in the
-- conversations whose user turns it sent (the bot hands over under its own producer) ('' = all).
SELECT JSONExtractString(properties, 'reason') AS reason, uniqExact(conversation_id) AS n
FROM {db:Identifier}.events FINAL
WHERE event_type = 'conversation_closed'
  AND conversation_id IN (SELECT DISTINCT conversation_id FROM {db:Identifier}.events
                          WHERE event_type = 'handoff_requested' AND conversation_id != ''
                            AND ({producer:String} = '' OR producer_id = {producer:String}
         OR conversation_id IN (SELECT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'chat_turn' AND producer_id = {producer:String})))
GROUP BY reason
ORDER BY n DESC, reason
