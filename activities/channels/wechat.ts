// WeChat adapter: a template message in the shape of a WeChat Official Account's
// (message/template/send): `first` is the title, keyword1..n the template's fields in order, `remark`
// the body. `template_id` is the Official Account's id for the template (templateIds maps ours to
// theirs; by default our name, for the relay to map). The relay resolves the user's openid (`touser`)
// from shopId and userId and calls WeChat with its own access token.
import type { MessageChannel, Transport } from './channel';
import type { RenderedMessage } from './templates';
import { createTemplateChannel } from './webhook';

export interface WeChatTemplateMessage {
  template_id: string;
  data: Record<string, { value: string }>;
}

export interface WeChatPayload {
  wechat: WeChatTemplateMessage;
}

export interface WeChatOptions {
  templateIds?: Record<string, string>;
}

export function toWeChatPayload(message: RenderedMessage, options: WeChatOptions = {}): WeChatPayload {
  const data: Record<string, { value: string }> = { first: { value: message.title } };
  message.fields.forEach((value, i) => (data[`keyword${i + 1}`] = { value }));
  data['remark'] = { value: message.body };
  const ids = options.templateIds ?? {};
  const templateId = Object.prototype.hasOwnProperty.call(ids, message.template)
    ? ids[message.template]
    : undefined;
  return { wechat: { template_id: templateId ?? message.template, data } };
}

export function createWeChatChannel(transport: Transport, options: WeChatOptions = {}): MessageChannel {
  return createTemplateChannel('wechat', transport, (message) => toWeChatPayload(message, options));
}
