// Reading the configuration's variables (a value, or the file X_FILE names), printing them without
// secrets, and the checks that span variables (a relay URL needs its secret, a WeChat token its shop).
import * as fs from 'node:fs';
import type { ChannelTarget } from './config-values';

/** Variables whose values are never printed (errors, `shopstream config`, logs). */
export const SECRET_VARIABLE = /PASSWORD|TOKEN|KEYS|SECRET|CREDS/;

/** A value fit to print: secrets as '***', credentials in URLs (also several, comma-separated) hidden. */
export function redact(variable: string, value: string): string {
  if (SECRET_VARIABLE.test(variable)) return '***';
  return value
    .split(',')
    .map((part) => {
      try {
        const url = new URL(part.trim());
        if (!url.username && !url.password) return part;
        url.username = url.username ? '***' : '';
        url.password = url.password ? '***' : '';
        return url.toString();
      } catch {
        return part; // not a URL
      }
    })
    .join(',');
}

/** The raw value of a variable: X itself, or the contents of the file X_FILE names (trailing newline cut). */
export function rawValue(
  env: NodeJS.ProcessEnv,
  variable: string,
  problems: { variable: string; message: string }[],
): string | undefined {
  const file = env[`${variable}_FILE`];
  if (file === undefined || file === '') return env[variable];
  if (env[variable]) {
    problems.push({ variable, message: `set both ${variable} and ${variable}_FILE: choose one` });
    return undefined;
  }
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    problems.push({ variable: `${variable}_FILE`, message: `cannot read ${file} (${code})` });
    return undefined;
  }
}

/** A relay URL needs the secret that signs its requests. */
export function channelProblems(channels: Record<string, unknown>): { variable: string; message: string }[] {
  const relayed = Object.values(channels).some((t) => (t as ChannelTarget | undefined)?.kind === 'http');
  const secret = channels['secret'];
  if (!relayed || (typeof secret === 'string' && secret.length >= 16)) return [];
  return [
    {
      variable: 'CHANNEL_SECRET',
      message:
        'required (at least 16 characters) when a CHANNEL_* variable is a relay URL: it signs every request',
    },
  ];
}

/** A WeChat token needs the shop it answers for, and is long enough to be a secret. */
export function chatChannelProblems(chat: Record<string, unknown>): { variable: string; message: string }[] {
  const token = chat['wechatToken'];
  if (typeof token !== 'string' || token === '') return [];
  const problems: { variable: string; message: string }[] = [];
  // WeChat's own rule: 3 to 32 letters and digits
  if (!/^[A-Za-z0-9]{3,32}$/.test(token))
    problems.push({
      variable: 'CHAT_WECHAT_TOKEN',
      message: 'must be 3 to 32 letters and digits (WeChat’s rule)',
    });
  if (!chat['wechatShopId'])
    problems.push({
      variable: 'CHAT_WECHAT_SHOP',
      message: 'required with CHAT_WECHAT_TOKEN: the shop the account belongs to',
    });
  return problems;
}
