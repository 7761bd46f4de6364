-- From the handoff (its event time) to the escalation flow's first step (level 1's event time), p50
-- and p90 in ms: how far the triggers and the worker ran behind the desk.
-- {db:Identifier} the database; {producer:String} the handoffs of one producer, or in the
-- conversations whose user turns it sent (the bot hands over under its own producer) ('' = all).
SELECT if(count() = 0, 0, quantileExact(0.5)(lag)) AS p50,
       if(count() = 0, 0, quantileExact(0.9)(lag)) AS p90
FROM (SELECT greatest(0, dateDiff('millisecond', h.at, e.at)) AS lag
      FROM (SELECT conversation_id, min(occurred_at) AS at FROM {db:Identifier}.events FINAL
            WHERE event_type = 'handoff_requested' AND conversation_id != ''
              AND ({producer:String} = '' OR producer_id = {producer:String}
         OR conversation_id IN (SELECT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'chat_turn' AND producer_id = {producer:String}))
            GROUP BY conversation_id) AS h
      INNER JOIN (SELECT conversation_id, min(occurred_at) AS at FROM {db:Identifier}.events FINAL
                  WHERE event_type = 'conversation_escalated' GROUP BY conversation_id) AS e
      USING conversation_id)
