// What `shopstream flows simulate` needs from Temporal's SDK, loaded only when it runs (`flows list`
// and `flows validate` do not pay for it), and a simulated user inside or outside a flow's holdout.
import type { Flow } from '../../workflows/dsl';
import { isHeldOut } from '../../workflows/holdout';
import { UsageError } from '../run';

let runtimeInstalled = false;

// Lazy: `flows list` and `flows validate` do not pay for the Temporal SDK.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const load = <T>(id: string): T => require(id) as T;

export function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const { DefaultLogger, Runtime } = load<typeof import('@temporalio/worker')>('@temporalio/worker');
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
    });
  } catch {
    // already installed in this process
  }
}

export function userIdFor(flow: Flow, heldOut: boolean): string {
  const percent = flow.audience?.holdoutPercent ?? 0;
  for (let i = 1; i <= 10_000; i++) {
    const id = `sim-user-${i}`;
    if (isHeldOut(flow.name, id, percent) === heldOut) return id;
  }
  throw new UsageError(
    `flow '${flow.name}' has a ${percent}% holdout: no user ${heldOut ? 'in' : 'outside'} it`,
  );
}
