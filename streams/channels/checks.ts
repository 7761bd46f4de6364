// What the chat hub (hub.ts) checks before a turn goes anywhere, and how it reads a reply: bounded
// text without control characters, conversation and client message ids, the identity's user, and
// the reply payload's shape. Pure.
import { USER_ID_RE } from '../../schemas/ids';
import type { ReplyPayload } from '../processors/chat/processor';

/** Longest user turn, in characters (code points), after control characters are stripped. */
export const MAX_TEXT_CHARS = 2000;
/** A conversation id: 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit. */
export const CONVERSATION_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** A client message id: 1 to 128 letters, digits, '.', '_', ':' or '-'. */
export const CLIENT_MSG_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export type ChatChannel = 'web' | 'app' | 'mini_program' | 'social';

/** Who is chatting, as the channel's authentication established it. */
export interface Identity {
  shopId: string;
  userId?: string;
  anonymousId?: string;
}

/** A refusal the channel shows its client: an HTTP status, a stable code, a sentence. */
export interface ChatError {
  status: number;
  code: string;
  message: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: ChatError };

export const fail = (status: number, code: string, message: string): { ok: false; error: ChatError } => ({
  ok: false,
  error: { status, code, message },
});

// C0 controls except tab and newline, DEL, C1 controls, and lone surrogates (protobuf cannot carry them)
const CONTROL =
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The text of a user turn: control characters stripped, CR LF as LF, trimmed; empty or too long refused. */
export function cleanText(raw: unknown): Checked<string> {
  if (typeof raw !== 'string') return fail(400, 'invalid_text', 'text must be a string');
  // a bound before the work: a huge string is refused without scanning it all
  if (raw.length > MAX_TEXT_CHARS * 4)
    return fail(400, 'text_too_long', `text is longer than ${MAX_TEXT_CHARS} characters`);
  const text = raw.replace(/\r\n?/g, '\n').replace(CONTROL, '').trim();
  if (text === '') return fail(400, 'empty_text', 'text is empty: say something');
  let chars = 0;
  for (const _ of text) chars++;
  if (chars > MAX_TEXT_CHARS)
    return fail(400, 'text_too_long', `text is ${chars} characters; at most ${MAX_TEXT_CHARS} are accepted`);
  return { ok: true, value: text };
}

export function checkConversationId(raw: unknown): Checked<string> {
  if (typeof raw !== 'string' || raw === '')
    return fail(400, 'missing_conversation', 'a conversation id is required (conversation / conversationId)');
  if (!CONVERSATION_ID_RE.test(raw))
    return fail(
      400,
      'invalid_conversation',
      "the conversation id must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  return { ok: true, value: raw };
}

export interface SayInput {
  identity: Identity;
  channel: ChatChannel;
  conversationId: unknown;
  text: unknown;
  /** The client's id for this message: a retry with the same id is the same turn (one event). */
  clientMsgId?: unknown;
  /** The product page the user chats from. */
  productId?: unknown;
  /** The client's own turn number, when it keeps one. */
  turnIndex?: unknown;
}

export interface CheckedSay {
  conversationId: string;
  text: string;
  clientMsgId?: string;
  productId?: string;
  turnIndex?: number;
}

/** Checks a user turn's fields. Pure. */
export function checkSay(input: SayInput): Checked<CheckedSay> {
  const conversation = checkConversationId(input.conversationId);
  if (!conversation.ok) return conversation;
  const text = cleanText(input.text);
  if (!text.ok) return text;
  const out: CheckedSay = { conversationId: conversation.value, text: text.value };
  const { clientMsgId, productId, turnIndex } = input;
  if (clientMsgId !== undefined && clientMsgId !== null && clientMsgId !== '') {
    if (typeof clientMsgId !== 'string' || !CLIENT_MSG_ID_RE.test(clientMsgId))
      return fail(
        400,
        'invalid_client_msg_id',
        "clientMsgId must be 1 to 128 letters, digits, '.', '_', ':' or '-'",
      );
    out.clientMsgId = clientMsgId;
  }
  if (productId !== undefined && productId !== null && productId !== '') {
    if (typeof productId !== 'string' || productId.length > 128 || !USER_ID_RE.test(productId))
      return fail(400, 'invalid_product_id', 'productId must be 1 to 128 letters, digits or . _ @ + = | -');
    out.productId = productId;
  }
  if (turnIndex !== undefined && turnIndex !== null) {
    if (typeof turnIndex !== 'number' || !Number.isInteger(turnIndex) || turnIndex < 0 || turnIndex > 1e9)
      return fail(400, 'invalid_turn_index', 'turnIndex must be a whole number from 0 to 1000000000');
    out.turnIndex = turnIndex;
  }
  return { ok: true, value: out };
}

/** Checks what arrived on a reply subject; undefined when it is not a reply. Pure. */
export function parseReply(data: Uint8Array): ReplyPayload | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (
    typeof r['conversationId'] !== 'string' ||
    typeof r['eventId'] !== 'string' ||
    typeof r['text'] !== 'string' ||
    typeof r['turnIndex'] !== 'number' ||
    typeof r['at'] !== 'string'
  )
    return undefined;
  return v as ReplyPayload;
}
