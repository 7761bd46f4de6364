// The shipped flows by name (for the CLI and the triggers).
import type { Flow } from '../dsl';
import { cartRecovery } from './cart-recovery';

export const flows: Readonly<Record<string, Flow>> = { [cartRecovery.name]: cartRecovery };
export { cartRecovery };
