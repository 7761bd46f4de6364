// The flow registry: the shipped flows by name (for the CLI), and which of them the triggers run.
// A new flow runs once it is registered here (ARCHITECTURE.md): the triggers read shippedFlows().
import type { Flow } from '../dsl';
import { cartRecovery } from './cart-recovery';
import { cartRecoveryDemo } from './cart-recovery-demo';
import { tierCoupons } from './tier-coupons';
import { tierCouponsDemo } from './tier-coupons-demo';

export const flows: Readonly<Record<string, Flow>> = {
  [cartRecovery.name]: cartRecovery,
  [tierCoupons.name]: tierCoupons,
};
export { cartRecovery, tierCoupons };

/** The flows each trigger starts: the cart flow, and the tier coupon flows. */
export interface RunningFlows {
  cartRecovery: Flow;
  tierCoupons: readonly Flow[];
}

/** The shipped flows, or their demo variants (windows of seconds) with DEMO_FLOW_WINDOWS=1. */
export function shippedFlows(cfg: { demoFlowWindows: boolean }): RunningFlows {
  return cfg.demoFlowWindows
    ? { cartRecovery: cartRecoveryDemo, tierCoupons: [tierCouponsDemo] }
    : { cartRecovery, tierCoupons: [tierCoupons] };
}
