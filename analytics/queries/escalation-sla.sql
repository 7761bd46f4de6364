-- SLA attainment from escalation_ended: conversations whose first-response and resolution deadlines
-- were met or missed (undecided ones in neither).
-- {db:Identifier} the database; {producer:String} the handoffs of one producer, or in the
-- conversations whose user turns it sent (the bot hands over under its own producer) ('' = all).
SELECT uniqExactIf(conversation_id, fr = 'met') AS frMet,
       uniqExactIf(conversation_id, fr = 'missed') AS frMissed,
       uniqExactIf(conversation_id, res = 'met') AS resMet,
       uniqExactIf(conversation_id, res = 'missed') AS resMissed
FROM (SELECT conversation_id, JSONExtractString(properties, 'first_response_sla') AS fr,
             JSONExtractString(properties, 'resolution_sla') AS res
      FROM {db:Identifier}.events FINAL
      WHERE event_type = 'escalation_ended'
        AND conversation_id IN (SELECT DISTINCT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'handoff_requested' AND conversation_id != ''
                                  AND ({producer:String} = '' OR producer_id = {producer:String}
         OR conversation_id IN (SELECT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'chat_turn' AND producer_id = {producer:String}))))
