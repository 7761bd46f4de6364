-- Handed-off conversations whose escalation flow ran (level 1), reached level 2 (no agent in time)
-- and level 3 (not resolved in time). The flows' events come from the worker's producer: matched by
-- conversation id.
-- {db:Identifier} the database; {producer:String} the handoffs of one producer, or in the
-- conversations whose user turns it sent (the bot hands over under its own producer) ('' = all).
SELECT uniqExact(conversation_id) AS escalated, uniqExactIf(conversation_id, level >= 2) AS l2,
       uniqExactIf(conversation_id, level >= 3) AS l3
FROM (SELECT conversation_id, JSONExtractUInt(properties, 'level') AS level
      FROM {db:Identifier}.events FINAL
      WHERE event_type = 'conversation_escalated'
        AND conversation_id IN (SELECT DISTINCT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'handoff_requested' AND conversation_id != ''
                                  AND ({producer:String} = '' OR producer_id = {producer:String}
         OR conversation_id IN (SELECT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'chat_turn' AND producer_id = {producer:String}))))
