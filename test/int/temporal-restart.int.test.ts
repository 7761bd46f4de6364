// The short version of the "Temporal restarted" chaos scenario (chaos/temporal-restart.ts): Temporal
// SIGKILLed while cart-recovery flows wait on their timers, down for 12 s while the rest of 2,000
// simulated shop events arrive, then started again on the same port and SQLite file. The triggers
// must hold their events meanwhile and start their flows once it is back; the waiting flows' timers
// fire and every flow completes; nothing is lost or doubled. Without the restart (or with a fresh
// SQLite file) the same checks report problems (see the scenario's `restart` negative controls).
import { temporalRestart, temporalRestartProblems } from '../../chaos/temporal-restart';

it('Temporal restarted on its SQLite file: held trigger events start their flows, every flow completes, nothing doubled', async () => {
  const f = await temporalRestart({ events: 2000, downMs: 12_000, seed: 7 });
  console.log(JSON.stringify(f));
  expect(temporalRestartProblems(f)).toEqual([]);
  // flows were running (waiting on timers) when Temporal went away, and survived it
  expect(f.flowsRunningAtKill).toBeGreaterThan(0);
  expect(f.flowsStartedBeforeOutage).toBeGreaterThan(0);
  // the triggers held events while it was down, and those started flows once it was back
  expect(f.held.atRestart).toBeGreaterThan(0);
  expect(f.flowsStartedFromHeld).toBeGreaterThan(0);
  expect(f.flowsStartedDuringOutage).toBe(0);
  // the workers came back by themselves
  expect(f.workersRestarted).toBe(0);
  expect(f.relay.messages).toBeGreaterThan(10);
}, 300_000);
