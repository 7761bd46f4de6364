import type { Config } from '../../infra/config';
import { ensurePyClients, ensureTools } from '../../infra/stack/tools';
import { stackDown, stackStatus, stackUp, type ComponentStatus } from '../../infra/stack/stack';

const log = (line: string): void => console.log(line);

function printStatus(status: ComponentStatus[]): void {
  for (const s of status) {
    const extra = [s.pid ? `pid ${s.pid}` : '', s.http ?? '', s.note ?? ''].filter(Boolean).join(', ');
    console.log(`  ${s.name.padEnd(11)} ${s.state.padEnd(15)} ${s.address}${extra ? `  (${extra})` : ''}`);
  }
}

export async function install(config: Config): Promise<void> {
  const tools = await ensureTools(config.stack, log);
  for (const [name, p] of Object.entries(tools)) console.log(`  ${name.padEnd(18)} ${p}`);
  await ensurePyClients(config.stack, log);
}

export async function up(config: Config): Promise<void> {
  const status = await stackUp(config, log);
  console.log('local stack:');
  printStatus(status);
}

export async function down(config: Config): Promise<void> {
  await stackDown(config, log);
}

export async function status(config: Config): Promise<number> {
  const s = await stackStatus(config);
  printStatus(s);
  return s.every(
    (c) => c.state === 'running' || c.name === 'service' || c.name === 'worker' || c.name === 'chat-worker',
  )
    ? 0
    : 3;
}
