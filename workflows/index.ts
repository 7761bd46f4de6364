// Every workflow the worker registers (the bundle's entry point).
export { cartRecoveryWorkflow } from './cart-recovery';
export { couponReleaseWorkflow } from './coupon-release';
export { escalationWorkflow } from './escalation';
