// Builds the flows' channels from the `channels` config section: each of email, sms, app_push, wechat
// and webhook is the log channel (`log`, the demo's default), left out (`off`: a step on it fails with
// ChannelNotConfigured) or an adapter over the signed HTTP relay at a URL. The `log` channel is always
// the log channel. Every message is logged with ids and the template only, never its text.
import type { ChannelTarget, Config } from '../../infra/config';
import type { Logger } from '../../infra/logger';
import type { Channel } from '../../workflows/dsl';
import { maskCode } from '../../coupons/coupon-ledger';
import { createAppPushChannel } from './app-push';
import type { MessageChannel, Transport } from './channel';
import { createEmailChannel } from './email';
import { createLogChannel } from './log';
import { createSmsChannel } from './sms';
import { createHttpRelay, createWebhookChannel } from './webhook';
import { createWeChatChannel } from './wechat';

export type ChannelsConfig = Config['channels'];

const ADAPTERS: Record<Exclude<Channel, 'log'>, (transport: Transport) => MessageChannel> = {
  email: createEmailChannel,
  sms: createSmsChannel,
  app_push: createAppPushChannel,
  wechat: createWeChatChannel,
  webhook: createWebhookChannel,
};

export function channelTargets(config: ChannelsConfig): Record<Channel, ChannelTarget> {
  return {
    email: config.email,
    sms: config.sms,
    app_push: config.appPush,
    wechat: config.wechat,
    webhook: config.webhook,
    log: { kind: 'log' },
  };
}

/** A coupon code in a log line: masked (codes work like cash). */
const masked = (code: unknown): string | undefined =>
  typeof code === 'string' && code !== '' ? maskCode(code) : undefined;

export function createChannels(
  config: ChannelsConfig,
  logger: Logger,
): Partial<Record<Channel, MessageChannel>> {
  const channels: Partial<Record<Channel, MessageChannel>> = {};
  for (const [name, target] of Object.entries(channelTargets(config)) as [Channel, ChannelTarget][]) {
    if (target.kind === 'off') continue;
    if (target.kind === 'log' || name === 'log') {
      channels[name] = createLogChannel(name, (line) => {
        const m = JSON.parse(line) as { messageId: string; template: string; vars: Record<string, unknown> };
        logger.info(
          {
            channel: name,
            messageId: m.messageId,
            template: m.template,
            couponCode: masked(m.vars['couponCode']),
          },
          'message sent',
        );
      });
      continue;
    }
    if (!config.secret) throw new Error(`CHANNEL_SECRET is required: channel ${name} is a relay URL`);
    const transport = createHttpRelay({
      url: target.url,
      secret: config.secret,
      timeoutMs: config.timeoutMs,
    });
    channels[name] = logged(name, ADAPTERS[name](transport), logger);
  }
  return channels;
}

/** Where each channel goes, for a start-up line: log, off or the relay's origin (no path or credentials). */
export function describeChannels(config: ChannelsConfig): Record<Channel, string> {
  const out = {} as Record<Channel, string>;
  for (const [name, target] of Object.entries(channelTargets(config)) as [Channel, ChannelTarget][])
    out[name] = target.kind === 'http' ? new URL(target.url).origin : target.kind;
  return out;
}

function logged(name: Channel, channel: MessageChannel, logger: Logger): MessageChannel {
  return {
    async send(to, template, vars, options) {
      const result = await channel.send(to, template, vars, options);
      logger.info(
        { channel: name, messageId: result.messageId, template, couponCode: masked(vars['couponCode']) },
        'message sent',
      );
      return result;
    },
  };
}
