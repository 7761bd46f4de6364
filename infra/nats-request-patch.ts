// One change to nats.js 2.29's request path, for speed, applied when infra/nats.ts is loaded.
//
// Every answered request (each KV get and compare-and-set, each JetStream publish ack) ends in
// RequestOne.resolver, which settles the request's promise and then calls cancel(), and cancel()
// rejects the promise again with a new NatsError("cancelled"): ignored (the promise is settled), but
// an Error with its stack made for every request, 5.8 to 8.4% of the interest processor's CPU (make
// bench's profiles, bench/cpu-profile.ts). The patched resolver does what cancel() does apart from
// that rejection: stops the timer and takes the request off the mux. Timeouts and explicit cancels
// still go through cancel() as before.
//
// Applied only when resolver's source is exactly the one this was written against (so a nats.js
// that changed it keeps its own), and never twice.
import { createRequire } from 'node:module';

/** nats.js 2.29.3's RequestOne.prototype.resolver, whitespace squeezed. */
const EXPECTED =
  'resolver(err, msg) { if (this.timer) { this.timer.cancel(); } if (err) { if (this.ctx) { err.stack += `\\n\\n${this.ctx.stack}`; } this.deferred.reject(err); } else { this.deferred.resolve(msg); } this.cancel(); }';

interface RequestOneShape {
  timer?: { cancel(): void };
  ctx?: Error;
  deferred: { resolve(v: unknown): void; reject(err: unknown): void };
  mux: { cancel(r: unknown): void };
}

/** The patched resolver (exported for its unit test). */
export function resolver(this: RequestOneShape, err: Error | null, msg: unknown): void {
  if (this.timer) this.timer.cancel();
  if (err) {
    if (this.ctx) err.stack += `\n\n${this.ctx.stack}`;
    this.deferred.reject(err);
  } else {
    this.deferred.resolve(msg);
  }
  this.mux.cancel(this); // what cancel() does, but for rejecting a promise already settled
}

let state: 'patched' | 'unchanged' | undefined;

/** Patches nats.js once; 'unchanged' when its resolver is not the expected one (or not found). */
export function patchNatsRequests(): 'patched' | 'unchanged' {
  if (state) return state;
  try {
    const req = createRequire(require.resolve('nats'))('./lib/nats-base-client/request.js') as {
      RequestOne?: { prototype: { resolver?: unknown } };
    };
    const proto = req.RequestOne?.prototype;
    const source =
      typeof proto?.resolver === 'function' ? proto.resolver.toString().replace(/\s+/g, ' ') : '';
    if (proto && source === EXPECTED) {
      proto.resolver = resolver;
      return (state = 'patched');
    }
  } catch {
    // another layout of the package: left as it is
  }
  return (state = 'unchanged');
}
