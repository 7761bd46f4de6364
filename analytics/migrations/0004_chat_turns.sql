-- Chat turns with the bot's understanding as columns: one row per turn (user, bot or agent), from
-- the events table (deduplicated with FINAL), so it is always rebuilt from events alone.
--   intent, confidence, sentiment, answered, kb_entry, kb_version: what the bot understood of the user
--     turn it answers and how it answered (bot turns only; '' / 0 otherwise);
--   reply_to: the user turn's event id; latency_ms: from that turn reaching the stream to the reply.
-- Example: SELECT intent, count(), avg(answered) FROM chat_turns WHERE role = 'bot' GROUP BY intent
CREATE VIEW IF NOT EXISTS {db}.chat_turns AS
SELECT
    shop_id,
    user_key,
    conversation_id,
    event_id,
    occurred_at,
    channel,
    chat_role AS role,
    chat_text AS text,
    JSONExtractUInt(properties, 'turnIndex') AS turn_index,
    JSONExtractString(properties, 'agentId') AS agent_id,
    JSONExtractString(properties, 'intent') AS intent,
    JSONExtractFloat(properties, 'confidence') AS confidence,
    JSONExtractString(properties, 'sentiment') AS sentiment,
    JSONExtractBool(properties, 'answered') AS answered,
    JSONExtractString(properties, 'kbEntry') AS kb_entry,
    JSONExtractString(properties, 'kbVersion') AS kb_version,
    JSONExtractString(properties, 'replyTo') AS reply_to,
    JSONExtractUInt(properties, 'latencyMs') AS latency_ms
FROM {db}.events FINAL
WHERE event_type = 'chat_turn';
