import { check, type HealthReport } from '../../setup/check.js';
import { prometheusText, writePrometheusFile } from '../../setup/check-prometheus.js';
import { COMMON_OPTIONS_HELP, EXIT_FAILURE, EXIT_OK, type Command, type CommandContext } from '../command.js';

export const checkCommand: Command = {
  name: 'check',
  help: `Usage: algo-netns check [--config FILE] [--json] [--prometheus FILE] [--verbose]

Checks that every namespace, link, address, default route and isolation rule is present,
that each service daemon (charon, the DNS resolver) runs inside its own namespace, reads
WireGuard's latest handshakes, and queries the DNS service addresses from inside the VPN
namespaces. Exits 0 when every check passes, 1 otherwise, naming each failure. Needs root.

  --json             print the report as one JSON object
  --prometheus FILE  also write the report in the Prometheus text format to FILE
                     (for node_exporter's textfile collector; written atomically).
                     Metrics: algo_netns_check_ok per check, algo_netns_healthy,
                     algo_netns_check_failed (1 when the check itself failed to run;
                     the file is still rewritten, with algo_netns_healthy 0),
                     algo_netns_check_timestamp_seconds (Unix time of the run, to
                     detect a stale file) and algo_netns_wireguard_handshake_age_seconds
${COMMON_OPTIONS_HELP}`,
  options: { json: { type: 'boolean' }, prometheus: { type: 'string' } },
  needsRoot: true,

  async run(context) {
    const prometheus = typeof context.options.prometheus === 'string' ? context.options.prometheus : undefined;
    const report = await checkAndRecord(context.config, prometheus);
    const { stdout } = context.streams;

    if (context.options.json) {
      stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      for (const result of report.results) stdout.write(`${result.ok ? 'ok  ' : 'FAIL'} ${result.check} ${result.target}: ${result.detail}\n`);
      const failed = report.results.filter((result) => !result.ok).length;
      stdout.write(failed === 0 ? 'check: healthy\n' : `check: ${failed} of ${report.results.length} checks failed\n`);
    }
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  },
};

/**
 * Runs the check and, when `prometheus` names a file, writes the outcome there. A check that
 * fails to run still rewrites the file as unhealthy, so that an earlier healthy file cannot go
 * on reporting a healthy server. The error is then raised as before.
 */
async function checkAndRecord(config: CommandContext['config'], prometheus: string | undefined): Promise<HealthReport> {
  let report: HealthReport;
  try {
    report = await check(config);
  } catch (error) {
    if (prometheus === undefined) throw error;
    try {
      await writePrometheusFile(prometheus, prometheusText(undefined, Date.now() / 1000));
    } catch (writeError) {
      throw new Error(`${(error as Error).message}; writing ${prometheus} failed as well: ${(writeError as Error).message}`, { cause: error });
    }
    throw error;
  }

  if (prometheus !== undefined) await writePrometheusFile(prometheus, prometheusText(report, Date.now() / 1000));
  return report;
}
