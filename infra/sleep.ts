// Waiting in the platform layer (never in workflow code, which waits with Temporal's sleep).

/** Resolves after `ms` milliseconds (a timer: it keeps the process alive until then). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
