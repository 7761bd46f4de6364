// What the bot says about its own reply: published with the reply (the chat_turn event's bot fields
// and the channels' reply payload), so analysts and channels see the same facts.

/** Why a conversation went to a human. */
export type HandoffReason = 'explicit_request' | 'low_confidence' | 'negative_sentiment';

export interface ReplyMeta {
  /** The user turn's intent (one of the 12, or fallback). */
  intent: string;
  confidence: number;
  sentiment: 'neutral' | 'negative' | 'angry';
  /** The question was answered (false: fallback, a question back, a handoff). */
  answered: boolean;
  lang: 'zh' | 'en';
  /** The knowledge-base entry the answer cites, and the knowledge base's version. */
  kbEntry?: string;
  kbVersion?: string;
  /** The bot asked for this before it can answer. */
  asked?: 'order_id' | 'size' | 'product';
  /** The reply hands the conversation to a human, for this reason. */
  handoff?: HandoffReason;
}
