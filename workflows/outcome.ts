// Activity calls (regular or local) as results: a business failure (a non-retryable
// ApplicationFailure, or retries given up) comes back as `{ ok: false, type }` for the flow to decide on; anything else is a bug in
// the workflow and is thrown.
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

export type Outcome<T> = { ok: true; value: T } | { ok: false; type: string; message: string };

export async function attempt<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (err) {
    // a local activity's business failure can surface as the ApplicationFailure itself
    if (err instanceof ApplicationFailure)
      return { ok: false, type: err.type ?? 'ApplicationFailure', message: err.message };
    if (!(err instanceof ActivityFailure)) throw err;
    const cause = err.cause;
    const type =
      cause instanceof ApplicationFailure ? (cause.type ?? 'ApplicationFailure') : 'ActivityFailure';
    return { ok: false, type, message: cause?.message ?? err.message };
  }
}
