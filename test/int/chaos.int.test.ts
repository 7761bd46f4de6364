// The short version of `make chaos` (chaos/process-kills.ts) inside `make test`: the service, the
// flow worker and the chat worker each SIGKILLed once while 5,000 simulated shop events, 1,000 hostile
// messages on the stream and 1,000 events of `make fuzz` through the collector flow, restarted each
// time, against a reference service that was never killed. Nothing lost, no row, bot reply, flow,
// reminder, coupon or escalation doubled, every profile the same, every hostile message stored (good)
// or dead-lettered (bad), every flow completed.
import { processKills, processKillsProblems } from '../../chaos/process-kills';

it('service and workers killed mid-run: nothing lost, nothing doubled, profiles as without kills', async () => {
  const f = await processKills({
    events: 5000,
    kills: 3,
    hostile: 1000,
    collectorFuzz: 1000,
    flows: true,
    seed: 7,
  });
  console.log(JSON.stringify(f));
  expect(processKillsProblems(f)).toEqual([]);
  expect(f.killed).toEqual({ service: 1, worker: 1, 'chat-worker': 1 });
  // enough happened for the checks to mean something
  expect(f.botReplies).toBeGreaterThan(50);
  expect(f.profiles).toBeGreaterThan(300);
  expect(f.hostile.good).toBeGreaterThan(100);
  expect(f.collectorFuzz!.accepted).toBeGreaterThan(300);
  expect(f.flows!.entered).toBeGreaterThan(50);
  expect(f.flows!.relay.messages).toBeGreaterThan(50);
  expect(f.flows!.couponsIssued).toBeGreaterThan(10);
}, 400_000);
