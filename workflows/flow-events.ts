// The events a flow publishes, built from what happened. Pure. Each event's key (and so its event id)
// is the same however often it is published: per message step for reminder_sent, per coupon (code
// and first issue time) for coupon_issued.
import type { FlowEvent, IssuedCoupon } from '../activities/types';
import type { Channel } from './dsl';

export interface ReminderFacts {
  flow: string;
  workflowId: string;
  shopId: string;
  userId: string;
  cartId: string;
  step: number;
  channel: Channel;
  template: string;
  coupon?: IssuedCoupon;
  /** The message's idempotency key. */
  key: string;
  at: number;
}

export function reminderSent(f: ReminderFacts): FlowEvent {
  return {
    type: 'reminder_sent',
    shopId: f.shopId,
    userId: f.userId,
    occurredAt: f.at,
    key: `${f.key}/reminder_sent`,
    properties: {
      flow: f.flow,
      workflowId: f.workflowId,
      step: f.step,
      deliveryChannel: f.channel,
      cartId: f.cartId,
      couponCode: f.coupon?.code ?? '',
      template: f.template,
    },
  };
}

export function couponIssued(shopId: string, userId: string, c: IssuedCoupon): FlowEvent {
  return {
    type: 'coupon_issued',
    shopId,
    userId,
    occurredAt: c.issuedAt,
    key: `coupon_issued/${shopId}/${c.code}`,
    properties: {
      campaignId: c.campaign,
      couponCode: c.code,
      tier: c.tier,
      amountMinor: c.amountMinor,
      expiresAt: c.expiresAt,
      currency: c.currency ?? '',
    },
  };
}

export interface EntryFacts {
  flow: string;
  version: number;
  workflowId: string;
  shopId: string;
  userId: string;
  holdout: boolean;
  cartId?: string;
  tier?: string;
  /** The run's key base (workflow id and first run id). */
  key: string;
  at: number;
}

/** The flow's decision about a user once it began: treatment or holdout (for uplift). */
export function flowEntered(f: EntryFacts): FlowEvent {
  return {
    type: 'flow_entered',
    shopId: f.shopId,
    userId: f.userId,
    occurredAt: f.at,
    key: `${f.key}/flow_entered`,
    properties: {
      flow: f.flow,
      workflowId: f.workflowId,
      flowVersion: f.version,
      holdout: f.holdout,
      cartId: f.cartId ?? '',
      tier: f.tier ?? '',
    },
  };
}

export interface RedemptionFacts {
  shopId: string;
  userId: string;
  campaign: string;
  code: string;
  orderId: string;
  discountMinor: number;
  currency?: string;
  /** The order's event time. */
  at: number;
}

/** A coupon redeemed by an order; one event per coupon (a code is redeemed once). */
export function couponRedeemed(r: RedemptionFacts): FlowEvent {
  return {
    type: 'coupon_redeemed',
    shopId: r.shopId,
    userId: r.userId,
    occurredAt: r.at,
    key: `coupon_redeemed/${r.shopId}/${r.code}`,
    properties: {
      campaignId: r.campaign,
      couponCode: r.code,
      orderId: r.orderId,
      discountMinor: r.discountMinor,
      currency: r.currency ?? '',
    },
  };
}
