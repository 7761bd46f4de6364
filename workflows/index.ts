// Every workflow the worker registers (the bundle's entry point).
export { cartRecoveryWorkflow } from './cart-recovery';
export { escalationWorkflow } from './escalation';
