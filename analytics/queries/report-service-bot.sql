-- The bot's side of service, over conversations whose first user turn is in [from, to):
-- conversations, contained (never handed to a human) and handed over; first response (the latency
-- of the bot's first reply: the user turn reaching the stream -> the reply published) p50/p95/p99 in
-- ms; resolution time of contained conversations that closed (first user turn -> conversation_closed)
-- p50/p95/p99 in seconds.
-- {db:Identifier} the database; {from:Float64} {to:Float64} the range, epoch seconds.
SELECT count() AS conversations,
       countIf(NOT handed) AS contained,
       countIf(handed) AS handed_over,
       countIf(replied) AS n_replied,
       quantilesExactIf(0.5, 0.95, 0.99)(first_reply_ms, replied) AS first_response_ms,
       countIf(NOT handed AND closed) AS n_resolved,
       quantilesExactIf(0.5, 0.95, 0.99)(resolution_s, NOT handed AND closed) AS resolution_s
FROM (
    SELECT t.shop_id AS shop_id, t.conversation_id AS conversation_id,
           minIf(t.occurred_at, t.role = 'user') AS started,
           countIf(t.role = 'bot') > 0 AS replied,
           argMinIf(t.latency_ms, t.occurred_at, t.role = 'bot') AS first_reply_ms,
           max(h.conversation_id != '') AS handed,
           max(c.closed_at) AS closed_at,
           closed_at > started AS closed,
           dateDiff('millisecond', started, closed_at) / 1000 AS resolution_s
    FROM {db:Identifier}.chat_turns AS t
    LEFT JOIN (
        SELECT DISTINCT shop_id, conversation_id
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'handoff_requested'
    ) AS h ON h.shop_id = t.shop_id AND h.conversation_id = t.conversation_id
    LEFT JOIN (
        SELECT shop_id, conversation_id, min(occurred_at) AS closed_at
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'conversation_closed'
        GROUP BY shop_id, conversation_id
    ) AS c ON c.shop_id = t.shop_id AND c.conversation_id = t.conversation_id
    GROUP BY shop_id, conversation_id
    HAVING countIf(t.role = 'user') > 0
       AND started >= toDateTime64({from:Float64}, 3) AND started < toDateTime64({to:Float64}, 3)
)
