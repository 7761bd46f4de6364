-- Handed-off conversations an agent was assigned to, and the wait for the agent (p50, p90, ms).
-- {db:Identifier} the database; {producer:String} the handoffs of one producer, or in the
-- conversations whose user turns it sent (the bot hands over under its own producer) ('' = all).
SELECT count() AS assigned, if(count() = 0, 0, quantileExact(0.5)(w)) AS p50,
       if(count() = 0, 0, quantileExact(0.9)(w)) AS p90
FROM (SELECT JSONExtractInt(properties, 'wait_ms') AS w
      FROM {db:Identifier}.events FINAL
      WHERE event_type = 'agent_assigned'
        AND conversation_id IN (SELECT DISTINCT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'handoff_requested' AND conversation_id != ''
                                  AND ({producer:String} = '' OR producer_id = {producer:String}
         OR conversation_id IN (SELECT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'chat_turn' AND producer_id = {producer:String}))))
