-- The human side of service, over handoffs in [from, to) (a conversation's first handoff_requested):
-- handed over; first response (handoff -> the first agent turn) p50/p95/p99 in ms; resolution
-- (handoff -> conversation_closed) p50/p95/p99 in seconds; SLA deadlines met and missed as the
-- escalation flow judged them (escalation_ended; undecided ones in neither).
-- {db:Identifier} the database; {from:Float64} {to:Float64} the range, epoch seconds.
SELECT count() AS handed_over,
       countIf(answered) AS n_answered,
       quantilesExactIf(0.5, 0.95, 0.99)(first_response_ms, answered) AS first_response_ms,
       countIf(closed) AS n_resolved,
       quantilesExactIf(0.5, 0.95, 0.99)(resolution_s, closed) AS resolution_s,
       countIf(fr = 'met') AS first_response_met, countIf(fr = 'missed') AS first_response_missed,
       countIf(res = 'met') AS resolution_met, countIf(res = 'missed') AS resolution_missed
FROM (
    SELECT h.handoff_at AS handoff_at,
           a.first_agent > h.handoff_at AS answered,
           dateDiff('millisecond', h.handoff_at, a.first_agent) AS first_response_ms,
           c.closed_at > h.handoff_at AS closed,
           dateDiff('millisecond', h.handoff_at, c.closed_at) / 1000 AS resolution_s,
           e.fr AS fr, e.res AS res
    FROM (
        SELECT shop_id, conversation_id, min(occurred_at) AS handoff_at
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'handoff_requested' AND conversation_id != ''
        GROUP BY shop_id, conversation_id
        HAVING handoff_at >= toDateTime64({from:Float64}, 3) AND handoff_at < toDateTime64({to:Float64}, 3)
    ) AS h
    LEFT JOIN (
        SELECT shop_id, conversation_id, min(occurred_at) AS first_agent
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'chat_turn' AND chat_role = 'agent'
        GROUP BY shop_id, conversation_id
    ) AS a ON a.shop_id = h.shop_id AND a.conversation_id = h.conversation_id
    LEFT JOIN (
        SELECT shop_id, conversation_id, min(occurred_at) AS closed_at
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'conversation_closed'
        GROUP BY shop_id, conversation_id
    ) AS c ON c.shop_id = h.shop_id AND c.conversation_id = h.conversation_id
    LEFT JOIN (
        SELECT shop_id, conversation_id,
               any(JSONExtractString(properties, 'first_response_sla')) AS fr,
               any(JSONExtractString(properties, 'resolution_sla')) AS res
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'escalation_ended'
        GROUP BY shop_id, conversation_id
    ) AS e ON e.shop_id = h.shop_id AND e.conversation_id = h.conversation_id
)
