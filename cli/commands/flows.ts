// `shopstream flows list | validate | simulate <flow>`: the marketers' flows as code. `simulate` runs a
// shipped flow on Temporal's time-skipping test server (the binary from .tools/, as the tests use it)
// with in-memory activities, against a scripted customer, and prints the timeline: what was sent
// when (relative to the customer's first cart change, and on the user-local clock), what was skipped,
// and why the flow stopped.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { Config } from '../../infra/config';
import { findTools } from '../../infra/stack/tools';
import {
  FLOW_CHANNELS,
  FlowValidationError,
  TIERS,
  validateFlow,
  type Channel,
  type CouponSpec,
  type Flow,
  type FlowError,
  type Step,
  type Tier,
} from '../../workflows/dsl';
import { flows } from '../../workflows/flows';
import { isValidTimeZone, localTime } from '../../schemas/time';
import type { TimelineEntry } from '../../workflows/cart-recovery';
import { UsageError } from '../run';
import { SCRIPTS, TIER_SCRIPTS } from '../flows-simulate/scripts';
import {
  EXIT_TEXT,
  localClock,
  relative,
  rowFor,
  untilLocal,
  money,
  type Row,
  type RunResult,
} from '../flows-simulate/timeline';
import { installRuntime, load, userIdFor } from '../flows-simulate/runtime';

const MINUTE = 60_000;

// ---------------------------------------------------------------------------------------------------
// list

function describeCoupon(c: CouponSpec): string {
  const offers = TIERS.flatMap((t) => {
    const o = c.byTier[t];
    if (!o) return [];
    const min = o.minCartMinor !== undefined ? ` (cart >= ${money(o.minCartMinor)})` : '';
    return [`${t} ${money(o.amountMinor)}${min}`];
  });
  const budget = [
    c.budget.maxCoupons !== undefined ? `${c.budget.maxCoupons} coupons` : undefined,
    c.budget.maxSpendMinor !== undefined ? `${money(c.budget.maxSpendMinor)} spend` : undefined,
  ].filter(Boolean);
  const currency = c.currency ? ` ${c.currency}` : '';
  return `coupon ${c.campaign} [${offers.join(', ')}${currency}; budget ${budget.join(' / ')}; expires after ${c.expiresAfter ?? '7d'}]`;
}

function describeStep(s: Step): string {
  switch (s.kind) {
    case 'wait':
      return `wait ${s.duration}`;
    case 'send':
      return `${s.channel} ${s.template}`;
    case 'send_with_coupon':
      return `${s.channel} ${s.template} + ${describeCoupon(s.coupon)}`;
    case 'end':
      return 'end';
  }
}

/** Every shipped flow: version, trigger, steps, exits, audience, quiet hours and cap. */
export function list(_config: Config): Promise<number> {
  const all = Object.values(flows);
  if (all.length === 0) console.log('no flows shipped');
  for (const f of all) {
    const tiers = f.audience?.tiers?.length ? `tiers ${f.audience.tiers.join(', ')}` : 'all tiers';
    const holdout = f.audience?.holdoutPercent ?? 0;
    console.log(`${f.name} v${f.version}`);
    console.log(
      f.trigger === 'cart_abandoned'
        ? `  trigger:     ${f.trigger} (cart unchanged for ${f.abandonAfter})`
        : `  trigger:     ${f.trigger} (a user moves up to ${f.audience?.tiers?.join(' or ')})`,
    );
    console.log(`  steps:       ${f.steps.map(describeStep).join(' -> ')}`);
    console.log(`  exits:       ${f.exit.map((e) => e.on).join(', ')}`);
    console.log(`  audience:    ${tiers}, ${holdout}% holdout (no messages, to measure uplift)`);
    console.log(
      `  quiet hours: ${f.quietHours ? `${f.quietHours.start}-${f.quietHours.end} user-local` : 'none'}`,
    );
    console.log(
      `  cap:         ${f.frequencyCap ? `${f.frequencyCap.perUserPerDay} messages per user per user-local day (all flows)` : 'none'}`,
    );
  }
  return Promise.resolve(0);
}

// ---------------------------------------------------------------------------------------------------
// validate

const looksLikeFlow = (v: unknown): v is Flow =>
  typeof v === 'object' && v !== null && ('steps' in v || ('name' in v && 'trigger' in v));

interface Checked {
  label: string;
  errors: readonly FlowError[] | string;
}

/** The flows a module file exports (default first), or why it could not be loaded. */
function checkFile(file: string): Checked[] {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new UsageError(`no such file: ${file}`);
  let mod: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(abs);
  } catch (err) {
    // defineFlow() throws on load when the flow is invalid: report its errors like any other
    if (err instanceof FlowValidationError || (err as Error)?.name === 'FlowValidationError') {
      const e = err as FlowValidationError;
      return [{ label: `${file}: flow '${e.flow}'`, errors: e.errors }];
    }
    return [{ label: file, errors: `cannot load: ${err instanceof Error ? err.message : String(err)}` }];
  }
  const m = (mod ?? {}) as Record<string, unknown>;
  const candidates = [
    m.default,
    ...Object.entries(m)
      .filter(([k]) => k !== 'default')
      .map(([, v]) => v),
  ];
  if (looksLikeFlow(mod)) candidates.unshift(mod); // module.exports = flow, or a JSON file
  const found = [...new Set(candidates.filter(looksLikeFlow))];
  if (found.length === 0)
    return [
      { label: file, errors: 'exports no flow (export default defineFlow({...}) or export const flow)' },
    ];
  return found.map((f) => ({ label: `${file}: flow '${String(f.name)}'`, errors: validateFlow(f) }));
}

function where(e: FlowError): string {
  if (e.step !== undefined) return `step ${e.step}`;
  return e.field ?? 'flow';
}

/** Validates every shipped flow (and a flow module file); exit code 1 when any has an error. */
export function validate(_config: Config, opts: Record<string, unknown> = {}): Promise<number> {
  const checked: Checked[] = Object.values(flows).map((f) => ({
    label: `${f.name} v${f.version}`,
    errors: validateFlow(f),
  }));
  if (typeof opts.file === 'string' && opts.file) checked.push(...checkFile(opts.file));
  let bad = 0;
  for (const c of checked) {
    if (typeof c.errors === 'string') {
      bad++;
      console.log(`${c.label}: ERROR ${c.errors}`);
    } else if (c.errors.length === 0) console.log(`${c.label}: OK`);
    else {
      bad++;
      console.log(`${c.label}: ${c.errors.length} error${c.errors.length === 1 ? '' : 's'}`);
      for (const e of c.errors) console.log(`  - ${where(e)} [${e.code}] ${e.message}`);
    }
  }
  console.log(bad === 0 ? `${checked.length} flow(s) valid` : `${bad} of ${checked.length} invalid`);
  return Promise.resolve(bad === 0 ? 0 : 1);
}

// ---------------------------------------------------------------------------------------------------
// simulate

export { SCRIPTS, TIER_SCRIPTS, type CustomerScript } from '../flows-simulate/scripts';
export { relative } from '../flows-simulate/timeline';

/** Runs a shipped flow on the time-skipping test server against a scripted customer; prints the timeline. */
export async function simulate(config: Config, opts: Record<string, unknown>): Promise<number> {
  const flowName = typeof opts.flow === 'string' ? opts.flow : '';
  const flow = flows[flowName];
  if (!flow) throw new UsageError(`unknown flow '${flowName}'; one of ${Object.keys(flows).join(', ')}`);
  const isTier = flow.trigger === 'tier_reached';
  const scripts = isTier ? TIER_SCRIPTS : SCRIPTS;
  const scriptName =
    typeof opts.script === 'string' && opts.script ? opts.script : isTier ? 'ignores' : 'abandon';
  const script = scripts[scriptName];
  if (!script)
    throw new UsageError(
      `unknown script '${scriptName}' for a ${flow.trigger} flow; one of ${Object.keys(scripts).join(', ')}`,
    );
  const defaultTier = isTier ? (flow.audience?.tiers?.[0] ?? 'repeat') : 'repeat';
  const tier = (typeof opts.tier === 'string' && opts.tier ? opts.tier : defaultTier) as Tier;
  if (!TIERS.includes(tier)) throw new UsageError(`unknown tier '${tier}'; one of ${TIERS.join(', ')}`);
  const timeZone = typeof opts.timeZone === 'string' && opts.timeZone ? opts.timeZone : 'UTC';
  if (!isValidTimeZone(timeZone))
    throw new UsageError(`unknown time zone '${timeZone}' (UTC, +08:00 or an IANA name)`);
  const problems = validateFlow(flow);
  if (problems.length > 0) {
    console.log(`flow '${flow.name}' is invalid:`);
    for (const e of problems) console.log(`  - ${e.message}`);
    return 1;
  }
  const { temporalTestServer } = await findTools(config.stack);
  if (!temporalTestServer)
    throw new UsageError(
      `temporal-test-server not found in ${path.join(config.stack.toolsDir, 'venv', 'bin')} or on PATH: run \`make install\` first`,
    );

  const began = performance.now();
  installRuntime();
  const { TestWorkflowEnvironment } = load<typeof import('@temporalio/testing')>('@temporalio/testing');
  const { Worker, bundleWorkflowCode, DefaultLogger } =
    load<typeof import('@temporalio/worker')>('@temporalio/worker');
  const wf = load<typeof import('../../workflows/cart-recovery')>('../../workflows/cart-recovery');
  const cwf = load<typeof import('../../workflows/coupon-release')>('../../workflows/coupon-release');
  const activities = load<typeof import('../../activities')>('../../activities');

  const [envResult, bundleResult] = await Promise.allSettled([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: temporalTestServer } },
    }),
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows/index'),
      logger: new DefaultLogger('WARN'),
    }),
  ]);
  if (envResult.status === 'rejected') throw envResult.reason;
  const env = envResult.value;
  try {
    if (bundleResult.status === 'rejected') throw bundleResult.reason;
    const workflowBundle = bundleResult.value;

    // In-memory activities: a log channel per channel (capturing sends), the ledger, the slots.
    const channels = Object.fromEntries(
      FLOW_CHANNELS.map((c) => [c, activities.createLogChannel(c)]),
    ) as Record<Channel, ReturnType<typeof activities.createLogChannel>>;
    const ledger = activities.createMemoryCouponLedger(); // a random secret of this run;
    const slots = activities.createMemoryMessageSlots();
    const published: string[] = [];
    const acts = activities.createActivities({
      channels,
      ledger,
      slots,
      publish: (e) => {
        published.push(e.type);
        return Promise.resolve();
      },
    });

    const now0 = await env.currentTimeMs();
    const wait0 = untilLocal(now0, timeZone, script.startsAt);
    if (wait0 > 0) await env.sleep(wait0);
    const t0 = await env.currentTimeMs();

    const shopId = 'sim-shop';
    const userId = userIdFor(flow, script.heldOut ?? false);
    const cartId = `sim-cart-${randomUUID().slice(0, 8)}`;
    const cart = { totalMinor: 8_000, itemCount: 2, currency: 'USD', eventTime: t0 };
    const rows: Row[] = [
      {
        at: t0,
        kind: 'customer',
        text: isTier
          ? `reaches the ${tier} tier (an order moved them up)`
          : `adds ${cart.itemCount} items to cart (${money(cart.totalMinor)} ${cart.currency})`,
      },
    ];
    if (script.busyDay && flow.frequencyCap) {
      const localDay = localTime(t0, timeZone).day;
      const cap = flow.frequencyCap.perUserPerDay;
      for (let i = 0; i < cap; i++)
        await slots.reserve({ shopId, userId, localDay, cap, key: `other-flow/${i}` });
      rows.unshift({ at: t0, kind: 'customer', text: `already got ${cap} messages today from other flows` });
    }

    console.log(
      `simulating ${flow.name} v${flow.version} on the time-skipping test server: script '${scriptName}' (${script.description}), tier ${tier}, time zone ${timeZone}`,
    );

    const taskQueue = `flows-simulate-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: acts,
    });
    const result: RunResult = await worker.runUntil(async () => {
      const handle = isTier
        ? await env.client.workflow.start(cwf.couponReleaseWorkflow, {
            args: [{ flow, shopId, userId, tier, timeZone }],
            taskQueue,
            workflowId: cwf.couponReleaseWorkflowId(shopId, userId, flow.name, tier),
          })
        : await env.client.workflow.start(wf.cartRecoveryWorkflow, {
            args: [{ flow, shopId, userId, cartId, tier, timeZone, cart }],
            taskQueue,
            workflowId: wf.cartRecoveryWorkflowId(shopId, userId, cartId),
          });
      /** The run's timeline and coupon so far; undefined once it has ended. */
      const progress = async (): Promise<{ timeline: TimelineEntry[]; code?: string } | undefined> => {
        if (isTier) {
          const st = await handle.query(cwf.couponReleaseState);
          return st.exit
            ? undefined
            : { timeline: st.timeline, ...(st.coupon ? { code: st.coupon.code } : {}) };
        }
        const st = await handle.query(wf.recoveryState);
        return st.phase === 'done' ? undefined : { timeline: st.timeline };
      };
      try {
        for (const action of script.actions) {
          let acted = false;
          for (;;) {
            const state = await progress();
            if (!state) break;
            const sent = state.timeline.filter((e) => e.event === 'sent');
            if (sent.length >= action.afterSent) {
              const base = action.afterSent === 0 ? t0 : sent[action.afterSent - 1]!.at;
              const left = base + action.delayMs - (await env.currentTimeMs());
              if (left > 0) await env.sleep(left);
              const at = await env.currentTimeMs();
              if (action.do === 'redeem') {
                const code = state.code ?? '';
                await handle.signal(cwf.couponRedeemed, { code, orderId: 'sim-order-1', eventTime: at });
                rows.push({ at, kind: 'customer', text: `places order sim-order-1 with coupon ${code}` });
              } else if (action.do === 'order') {
                await handle.signal(wf.orderPlaced, { orderId: 'sim-order-1', eventTime: at });
                rows.push({ at, kind: 'customer', text: 'places order sim-order-1' });
              } else if (action.do === 'opt_out') {
                await handle.signal(wf.optedOut, { eventTime: at });
                rows.push({ at, kind: 'customer', text: 'opts out of messages' });
              } else if (action.do === 'empty_cart') {
                await handle.signal(wf.cartChanged, { totalMinor: 0, itemCount: 0, eventTime: at });
                rows.push({ at, kind: 'customer', text: 'empties the cart' });
              } else {
                await handle.signal(wf.cartChanged, {
                  ...cart,
                  totalMinor: 9_500,
                  itemCount: 3,
                  eventTime: at,
                });
                rows.push({
                  at,
                  kind: 'customer',
                  text: `adds an item (3 items, ${money(9_500)} USD), leaves again`,
                });
              }
              acted = true;
              break;
            }
            await env.sleep(Math.min(30 * MINUTE, Math.max(MINUTE, action.delayMs)));
          }
          if (!acted) break;
        }
        return await handle.result();
      } catch (err) {
        await handle.terminate('simulation failed').catch(() => undefined);
        throw err;
      }
    });

    rows.push(...result.timeline.map((e) => rowFor(flow, e, result, timeZone)));
    rows.sort((a, b) => a.at - b.at); // stable: customer actions before the flow's reaction
    const rel = rows.map((r) => relative(r.at - t0));
    const relWidth = Math.max(...rel.map((r) => r.length));
    const kindWidth = Math.max(...rows.map((r) => r.kind.length));
    console.log(`  ${'after'.padEnd(relWidth)}  ${'local'.padEnd(9)}  what`);
    rows.forEach((r, i) =>
      console.log(
        `  ${rel[i]!.padEnd(relWidth)}  ${localClock(r.at, timeZone)}  ${r.kind.padEnd(kindWidth)}  ${r.text}`,
      ),
    );
    const count = (event: TimelineEntry['event']) => result.timeline.filter((e) => e.event === event).length;
    const skipped = count('held_out') + count('capped');
    const end = result.timeline.at(-1)?.at ?? t0;
    const seconds = ((performance.now() - began) / 1000).toFixed(1);
    console.log(
      `ended: ${EXIT_TEXT[result.exit] ?? result.exit} at ${relative(end - t0)}; ${count('sent')} sent, ${skipped} skipped, ${count('quiet_hours')} quiet-hours wait(s), ${ledger.issued().length} coupon(s) issued, ${published.length} event(s) published (${seconds} s)`,
    );
    return 0;
  } finally {
    await env.teardown();
  }
}
