// Message channels behind one interface (MessageChannel). The log channel is the demo's and the
// tests'; email, SMS, app push, WeChat and webhook are adapters that render a template into the
// provider's shape and deliver it through a Transport: the signed HTTP relay (./webhook).
export type { DeliveryOptions, MessageChannel, Transport } from './channel';
export { createLogChannel, type LogChannel, type LoggedMessage } from './log';
export {
  DERIVED_VARS,
  TEMPLATES,
  TEMPLATE_VARS,
  isTemplateName,
  placeholdersOf,
  renderOrFail,
  renderTemplate,
  type MessageVars,
  type RenderResult,
  type RenderedMessage,
  type TemplateDef,
  type TemplateName,
} from './templates';
export {
  ChannelUnavailable,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  classifyStatus,
  createHttpRelay,
  createTemplateChannel,
  createWebhookChannel,
  deterministicMessageId,
  signatureHeader,
  verifySignature,
  type DeliveryOutcome,
  type HttpRelayOptions,
  type SignatureCheck,
} from './webhook';
export { createEmailChannel, escapeHtml, toEmailPayload, type EmailPayload } from './email';
export {
  createSmsChannel,
  smsEncoding,
  toSmsPayload,
  toSmsText,
  type SmsEncoding,
  type SmsPayload,
  type SmsText,
} from './sms';
export {
  DEFAULT_DEEP_LINK_BASE,
  createAppPushChannel,
  toAppPushPayload,
  type AppPushOptions,
  type AppPushPayload,
} from './app-push';
export {
  createWeChatChannel,
  toWeChatPayload,
  type WeChatOptions,
  type WeChatPayload,
  type WeChatTemplateMessage,
} from './wechat';
export { channelTargets, createChannels, describeChannels, type ChannelsConfig } from './factory';
