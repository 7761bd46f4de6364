// The message templates: per template name a title (the subject of an email, the title of a push),
// a body, and short fields (the keyword lines of a WeChat template message), in English.
//
// Syntax: `{name}` is a placeholder: a variable of the message, or one derived from them:
//   cartTotal      cartTotalMinor in currency ("$49.99"; "49.99" when the cart has no currency)
//   couponAmount   couponAmountMinor in currency
//   couponExpires  couponExpiresAt (epoch ms) as "Dec 1, 2026, 10:00 UTC" (the `timeZone` var if given)
//   items          itemCount as "1 item" / "3 items"
//   tierLabel      tier as a phrase: new, regular, best
// Text inside `[[ ... ]]` is optional: it is left out when one of its variables is missing (the coupon
// reminder goes out without its coupon line when the shopper's tier got no coupon). A missing variable
// outside such a block, a malformed value, or an unknown template name is a business error: the
// message can never be rendered, so renderOrFail throws a non-retryable TemplateInvalid.
//
// Pure: no I/O, no clock. Minor units follow the currency's own decimals (JPY has none).
import { ApplicationFailure } from '@temporalio/activity';
import { ActivityErrorType } from '../types';

export type MessageVars = Record<string, string | number>;

export interface TemplateDef {
  title: string;
  body: string;
  /** In order; a WeChat template message's keyword1..n. */
  fields: readonly string[];
}

export const TEMPLATES = {
  cart_reminder_1: {
    title: 'You left something in your cart',
    body: 'Your cart with {items} ({cartTotal}) is saved for you. Pick up where you left off.',
    fields: ['{items}', '{cartTotal}'],
  },
  cart_reminder_coupon: {
    title: 'Your cart is still waiting[[ - {couponAmount} off]]',
    body:
      'Your cart with {items} ({cartTotal}) is still waiting.' +
      '[[ Use code {couponCode} for {couponAmount} off before {couponExpires}.]]',
    fields: ['{items}', '{cartTotal}', '[[{couponCode}]]', '[[{couponExpires}]]'],
  },
  cart_reminder_last: {
    title: 'Last call for your cart',
    body: "Your cart with {items} ({cartTotal}) won't be held much longer. Complete your order now.",
    fields: ['{items}', '{cartTotal}'],
  },
  tier_coupon_welcome: {
    title: 'A {couponAmount} coupon for you',
    body:
      'Thanks for being one of our {tierLabel} customers. ' +
      'Use code {couponCode} for {couponAmount} off before {couponExpires}.',
    fields: ['{couponCode}', '{couponAmount}', '{couponExpires}'],
  },
  tier_coupon_expiring: {
    title: 'Your {couponAmount} coupon expires soon',
    body: "Code {couponCode} gives you {couponAmount} off until {couponExpires}. Don't miss it.",
    fields: ['{couponCode}', '{couponAmount}', '{couponExpires}'],
  },
} as const satisfies Record<string, TemplateDef>;

export type TemplateName = keyof typeof TEMPLATES;

/** The variables flows pass (sendMessage vars); `timeZone` is optional, for couponExpires. */
export const TEMPLATE_VARS = [
  'cartId',
  'cartTotalMinor',
  'itemCount',
  'currency',
  'couponCode',
  'couponAmountMinor',
  'couponExpiresAt',
  'tier',
  'timeZone',
] as const;

export const DERIVED_VARS = ['cartTotal', 'couponAmount', 'couponExpires', 'items', 'tierLabel'] as const;

export interface RenderedMessage {
  template: string;
  title: string;
  body: string;
  fields: string[];
}

export type RenderResult = { ok: true; message: RenderedMessage } | { ok: false; reason: string };

export function isTemplateName(name: string): name is TemplateName {
  return Object.prototype.hasOwnProperty.call(TEMPLATES, name);
}

/** Every `{name}` in a text. */
export function placeholdersOf(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

export function renderTemplate(name: string, vars: MessageVars): RenderResult {
  if (!isTemplateName(name)) return { ok: false, reason: `unknown template '${name}'` };
  const def: TemplateDef = TEMPLATES[name];
  const title = fill(def.title, vars);
  if (!title.ok) return title;
  const body = fill(def.body, vars);
  if (!body.ok) return body;
  const fields: string[] = [];
  for (const f of def.fields) {
    const out = fill(f, vars);
    if (!out.ok) return out;
    fields.push(out.text);
  }
  return { ok: true, message: { template: name, title: title.text, body: body.text, fields } };
}

/** renderTemplate for activities: a template that cannot render is a non-retryable TemplateInvalid. */
export function renderOrFail(name: string, vars: MessageVars): RenderedMessage {
  const out = renderTemplate(name, vars);
  if (!out.ok)
    throw ApplicationFailure.nonRetryable(
      `template '${name}': ${out.reason}`,
      ActivityErrorType.TemplateInvalid,
    );
  return out.message;
}

// ---- rendering ---------------------------------------------------------------------------------------

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;
const OPTIONAL = /\[\[([\s\S]*?)\]\]/g;

type Resolved =
  { kind: 'ok'; value: string } | { kind: 'missing'; variable: string } | { kind: 'invalid'; reason: string };
type Filled = { ok: true; text: string } | { ok: false; reason: string };

function fill(text: string, vars: MessageVars): Filled {
  // One pass over required and optional parts, so a value is never read as a placeholder itself.
  let out = '';
  let last = 0;
  for (const m of text.matchAll(OPTIONAL)) {
    const required = substitute(text.slice(last, m.index), vars);
    if (required.kind !== 'ok') return failure(required);
    const optional = substitute(m[1] as string, vars);
    if (optional.kind === 'invalid') return failure(optional);
    out += required.value + (optional.kind === 'ok' ? optional.value : '');
    last = m.index + m[0].length;
  }
  const rest = substitute(text.slice(last), vars);
  if (rest.kind !== 'ok') return failure(rest);
  return { ok: true, text: (out + rest.value).replace(/\s+/g, ' ').trim() };
}

function failure(r: Exclude<Resolved, { kind: 'ok' }>): { ok: false; reason: string } {
  return { ok: false, reason: r.kind === 'missing' ? `variable '${r.variable}' is missing` : r.reason };
}

function substitute(text: string, vars: MessageVars): Resolved {
  let problem: Exclude<Resolved, { kind: 'ok' }> | undefined;
  const value = text.replace(PLACEHOLDER, (_, name: string) => {
    const r = resolve(name, vars);
    if (r.kind === 'ok') return r.value;
    problem ??= r;
    return '';
  });
  return problem ?? { kind: 'ok', value };
}

function has(vars: MessageVars, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(vars, name) && vars[name] !== '';
}

function resolve(name: string, vars: MessageVars): Resolved {
  const missing = (variable: string): Resolved => ({ kind: 'missing', variable });
  switch (name) {
    case 'cartTotal':
    case 'couponAmount': {
      const source = name === 'cartTotal' ? 'cartTotalMinor' : 'couponAmountMinor';
      if (!has(vars, source)) return missing(source);
      return formatMoney(
        source,
        vars[source] as string | number,
        has(vars, 'currency') ? vars['currency'] : undefined,
      );
    }
    case 'couponExpires': {
      if (!has(vars, 'couponExpiresAt')) return missing('couponExpiresAt');
      return formatDate(
        vars['couponExpiresAt'] as string | number,
        has(vars, 'timeZone') ? vars['timeZone'] : undefined,
      );
    }
    case 'items': {
      if (!has(vars, 'itemCount')) return missing('itemCount');
      const n = toInteger(vars['itemCount'] as string | number);
      if (n === undefined || n < 0) return { kind: 'invalid', reason: 'itemCount is not a count' };
      return { kind: 'ok', value: `${n} ${n === 1 ? 'item' : 'items'}` };
    }
    case 'tierLabel': {
      if (!has(vars, 'tier')) return missing('tier');
      const tier = String(vars['tier']);
      return { kind: 'ok', value: TIER_LABELS[tier] ?? tier.replace(/_/g, ' ') };
    }
    default:
      return has(vars, name) ? { kind: 'ok', value: String(vars[name]) } : missing(name);
  }
}

const TIER_LABELS: Record<string, string> = { new: 'new', repeat: 'regular', high_value: 'best' };

function toInteger(v: string | number): number | undefined {
  const n = typeof v === 'number' ? v : /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

function formatMoney(source: string, raw: string | number, currency: string | number | undefined): Resolved {
  const minor = toInteger(raw);
  if (minor === undefined)
    return { kind: 'invalid', reason: `${source} is not an integer amount in minor units` };
  if (currency === undefined)
    return {
      kind: 'ok',
      value: new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(
        minor / 100,
      ),
    };
  const code = String(currency).toUpperCase();
  if (!/^[A-Z]{3}$/.test(code))
    return { kind: 'invalid', reason: `currency '${code}' is not an ISO 4217 code` };
  try {
    const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: code });
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return { kind: 'ok', value: format.format(minor / 10 ** digits) };
  } catch {
    return { kind: 'invalid', reason: `currency '${code}' is not an ISO 4217 code` };
  }
}

/** A fixed UTC offset, as events carry them. */
const OFFSET = /^([+-])(\d{2}):([0-5]\d)$/;

function formatDate(raw: string | number, timeZone: string | number | undefined): Resolved {
  const ms = toInteger(raw);
  if (ms === undefined || ms < 0)
    return { kind: 'invalid', reason: 'couponExpiresAt is not epoch milliseconds' };
  const zone = timeZone === undefined ? 'UTC' : String(timeZone);
  // Intl takes IANA names only on Node 20; a fixed offset ('+08:00', shoppers' devices send them) is
  // shown as the wall clock at that offset, named the way Intl names one (GMT+8, GMT-5:30)
  const offset = OFFSET.exec(zone);
  try {
    const format = new Intl.DateTimeFormat('en-US', {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZone: offset ? 'UTC' : zone,
      ...(offset ? {} : { timeZoneName: 'short' }),
    });
    if (!offset) return { kind: 'ok', value: format.format(new Date(ms)) };
    const [, sign, hh, mm] = offset;
    const minutes = (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm));
    const name = minutes === 0 ? 'GMT' : `GMT${sign}${Number(hh)}${mm === '00' ? '' : `:${mm}`}`;
    return { kind: 'ok', value: `${format.format(new Date(ms + minutes * 60_000))} ${name}` };
  } catch {
    return { kind: 'invalid', reason: `unknown time zone '${String(timeZone)}'` };
  }
}
