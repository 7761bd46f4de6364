// Short versions of the two NATS fault scenarios of `make chaos` (chaos/nats-node-lost.ts,
// chaos/second-site.ts), inside `make test`: a 3-node cluster losing the events stream's leader (its
// store wiped) and then restarted whole, and a second site taking over when the first is lost. Nothing
// acked is lost (beyond the second site's reported recovery point) or stored twice, the service and
// the producer carried on, and the recovery figures are measured, not assumed.
import { natsNodeLost } from '../../chaos/nats-node-lost';
import { secondSite } from '../../chaos/second-site';

it('a NATS node lost, then the whole cluster restarted: nothing acked lost, nothing doubled', async () => {
  // 150 events/s: the run lasts long enough for both faults to land while events flow
  const f = await natsNodeLost({ events: 3000, ratePerSecond: 150, wipe: true, drain: 'sink', seed: 5 });
  console.log(JSON.stringify(f));
  expect(f).toMatchObject({ sent: 3000, acked: 3000, stored: 3000, lost: 0, duplicated: 0, abandoned: 0 });
  expect(f.serviceExits).toBe(0);
  // the leader was lost: publishes stalled until a new one was elected, then flowed again
  expect(f.nodeLost.newLeader).not.toBe(f.nodeLost.node);
  expect(f.nodeLost.publishRecoveryMs).toBeGreaterThan(0);
  expect(f.nodeLost.caughtUpMs).toBeGreaterThan(0);
  expect(f.clusterRestart?.publishRecoveryMs).toBeGreaterThan(0);
  expect(f.clusterRestart?.serviceHealthyMs).toBeGreaterThan(0);
  expect(f.publishRetries.sdk + f.publishRetries.scenario).toBeGreaterThan(0);
}, 240_000);

it('site1 lost: the mirror at site2 promoted, producer and pipeline moved, RPO and RTO reported', async () => {
  const f = await secondSite({ events: 3000, drain: 'sink', seed: 6 });
  console.log(JSON.stringify(f));
  expect(f.meta.size).toBe(7); // 3 + 3 + the witness
  expect(f.acked.site1).toBeGreaterThan(0);
  expect(f.acked.site2).toBeGreaterThan(0);
  expect(f.acked.site1 + f.acked.site2).toBe(3000);
  // every event acked by site1 is at site2 except the ones lost in flight, every one acked by site2 too
  expect(f.storedSite2).toBe(f.acked.site1 - f.lostInFlight + f.acked.site2);
  // once each as every query reads them (a retry across the switch may sit twice in the promoted stream
  // until ClickHouse merges it: f.duplicated, RELIABILITY.md)
  expect(f).toMatchObject({ lostAfterFailover: 0, duplicatedFinal: 0, abandoned: 0 });
  expect(f.duplicated).toBeLessThan(10);
  // the recovery point: a number, small next to what was sent (the mirror lagged by ms on loopback)
  expect(f.lostInFlight).toBeGreaterThanOrEqual(0);
  expect(f.lostInFlight).toBeLessThan(300);
  expect(f.rpoMs).toBeGreaterThanOrEqual(0);
  // the recovery time: the switch takes time, in this order
  expect(f.rto.detectedMs).toBeGreaterThan(0);
  expect(f.rto.promotedMs).toBeGreaterThanOrEqual(f.rto.detectedMs);
  expect(f.rto.publishMs).toBeGreaterThanOrEqual(f.rto.promotedMs);
  expect(f.rto.serviceHealthyMs).toBeGreaterThan(0);
}, 240_000);
