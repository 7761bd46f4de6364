-- The questions the bot could not answer, with what it made of them: user turns in [from, to) whose
-- bot reply did not answer (fallback, a question back, a handoff for a missing answer, no confident
-- knowledge entry). bot/kb/gaps.ts groups them by similarity for `shopstream kb gaps`.
-- {db:Identifier} the database; {from:Float64} {to:Float64} the range, epoch seconds.
SELECT
    u.text AS text,
    b.intent AS intent,
    b.confidence AS confidence,
    count() AS n
FROM {db:Identifier}.chat_turns AS b
INNER JOIN {db:Identifier}.chat_turns AS u ON u.event_id = b.reply_to
WHERE b.role = 'bot'
  AND NOT b.answered
  AND u.role = 'user'
  AND u.text != ''
  AND u.occurred_at >= toDateTime64({from:Float64}, 3) AND u.occurred_at < toDateTime64({to:Float64}, 3)
GROUP BY text, intent, confidence
ORDER BY n DESC, text
LIMIT 5000
