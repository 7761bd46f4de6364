// The short version of `make chaos` (chaos/process-kills.ts) inside `make test`: the pipeline service
// SIGKILLed 3 times while 5,000 simulated shop events and 1,000 hostile messages flow, restarted each
// time, against a reference service that was never killed. Nothing lost, no row or bot reply doubled,
// every profile the same, every hostile message stored (good) or dead-lettered (bad).
import { processKills } from '../../chaos/process-kills';

it('the service killed 3 times mid-run: nothing lost, nothing doubled, profiles as without kills', async () => {
  const f = await processKills({ events: 5000, kills: 3, hostile: 1000, seed: 7 });
  console.log(JSON.stringify(f));
  expect(f).toMatchObject({
    sent: 5000,
    stored: 5000,
    duplicated: 0,
    kills: 3,
    botRepliesDoubled: 0,
    profilesDiffering: 0,
  });
  expect(f.botReplies).toBeGreaterThan(50);
  expect(f.profiles).toBeGreaterThan(300);
  // the hostile messages sent during the kills: every good one stored, every bad one dead-lettered
  expect(f.hostile.good).toBeGreaterThan(100);
  expect(f.hostile).toMatchObject({ sent: 1000, stored: f.hostile.good, deadLettered: f.hostile.bad });
}, 300_000);
