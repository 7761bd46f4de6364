import type { Config } from '../../infra/config';
import { prometheusRules } from '../../streams/dashboard/alerts';

/** The service's alert rules as a Prometheus alerting-rules file, on stdout. */
export function rules(_config: Config): Promise<void> {
  process.stdout.write(prometheusRules());
  return Promise.resolve();
}
