// The flow registry: the shipped flows by name (for the CLI), and which of them the triggers run.
// A new flow runs once it is registered here (ARCHITECTURE.md): the triggers read shippedFlows().
import type { Flow } from '../dsl';
import { cartRecovery } from './cart-recovery';
import { tierCoupons } from './tier-coupons';
import { withTiming, type FlowTiming } from './timing';
export { AS_WRITTEN, timingFrom, withTiming, type FlowTiming } from './timing';

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

/** The shipped flows the triggers run, with the configured timing (as written by default). */
export function shippedFlows(timing: FlowTiming): RunningFlows {
  return {
    cartRecovery: withTiming(cartRecovery, timing),
    tierCoupons: [withTiming(tierCoupons, timing)],
  };
}
