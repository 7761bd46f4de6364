-- The bot's service figures over conversations whose first user turn is in [from, to): conversations,
-- contained (never handed to a human), handed over, the bot's replies and how many answered the
-- question, and the reply latency (user turn reaching the stream -> reply published) p50/p95/p99 ms.
-- {db:Identifier} the database; {from:Float64} {to:Float64} the range, epoch seconds;
-- {producer:String} only the conversations whose user turns that producer sent ('' = all).
SELECT
    count() AS conversations,
    countIf(NOT handed) AS contained,
    countIf(handed) AS handed_over,
    sum(replies) AS bot_replies,
    sum(answered) AS answered,
    quantileExactMerge(0.5)(latency) AS reply_p50_ms,
    quantileExactMerge(0.95)(latency) AS reply_p95_ms,
    quantileExactMerge(0.99)(latency) AS reply_p99_ms
FROM (
    SELECT
        t.shop_id AS shop_id,
        t.conversation_id AS conversation_id,
        minIf(t.occurred_at, t.role = 'user') AS started,
        countIf(t.role = 'bot') AS replies,
        countIf(t.role = 'bot' AND t.answered) AS answered,
        quantileExactStateIf(0.5)(t.latency_ms, t.role = 'bot') AS latency,
        max(h.conversation_id != '') AS handed
    FROM {db:Identifier}.chat_turns AS t
    LEFT JOIN (
        SELECT DISTINCT shop_id, conversation_id
        FROM {db:Identifier}.events FINAL
        WHERE event_type = 'handoff_requested'
    ) AS h ON h.shop_id = t.shop_id AND h.conversation_id = t.conversation_id
    WHERE {producer:String} = ''
       OR t.conversation_id IN (SELECT conversation_id FROM {db:Identifier}.events
                                WHERE event_type = 'chat_turn' AND producer_id = {producer:String})
    GROUP BY shop_id, conversation_id
    HAVING countIf(t.role = 'user') > 0
       AND started >= toDateTime64({from:Float64}, 3) AND started < toDateTime64({to:Float64}, 3)
)
