-- chat_turns read the bot's fields under the wrong names: `properties` holds the payload with
-- snake_case names (turn_index, latency_ms, reply_to, kb_entry...), 0004 asked for camelCase ones, so
-- turn_index, agent_id, kb_entry, kb_version, reply_to and latency_ms were always empty. Same view,
-- right names (CREATE OR REPLACE: idempotent).
CREATE OR REPLACE VIEW {db}.chat_turns AS
SELECT
    shop_id,
    user_key,
    conversation_id,
    event_id,
    occurred_at,
    channel,
    chat_role AS role,
    chat_text AS text,
    JSONExtractUInt(properties, 'turn_index') AS turn_index,
    JSONExtractString(properties, 'agent_id') AS agent_id,
    JSONExtractString(properties, 'intent') AS intent,
    JSONExtractFloat(properties, 'confidence') AS confidence,
    JSONExtractString(properties, 'sentiment') AS sentiment,
    JSONExtractBool(properties, 'answered') AS answered,
    JSONExtractString(properties, 'kb_entry') AS kb_entry,
    JSONExtractString(properties, 'kb_version') AS kb_version,
    JSONExtractString(properties, 'reply_to') AS reply_to,
    JSONExtractUInt(properties, 'latency_ms') AS latency_ms
FROM {db}.events FINAL
WHERE event_type = 'chat_turn';
