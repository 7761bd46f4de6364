// The shipped flows by name (for the CLI and the triggers).
import type { Flow } from '../dsl';
import { cartRecovery } from './cart-recovery';
import { tierCoupons } from './tier-coupons';

export const flows: Readonly<Record<string, Flow>> = {
  [cartRecovery.name]: cartRecovery,
  [tierCoupons.name]: tierCoupons,
};
export { cartRecovery, tierCoupons };
