import { rename, writeFile } from 'node:fs/promises';
import { check, prometheusText } from '../../setup/check.js';
import { COMMON_OPTIONS_HELP, EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';

export const checkCommand: Command = {
  name: 'check',
  help: `Usage: algo-netns check [--config FILE] [--json] [--prometheus FILE] [--verbose]

Checks that every namespace, link, address, default route and isolation rule is present,
that each service daemon (charon, the DNS resolver) runs inside its own namespace, reads
WireGuard's latest handshakes, and queries the DNS service addresses from inside the VPN
namespaces. Exits 0 when every check passes, 1 otherwise, naming each failure. Needs root.

  --json             print the report as one JSON object
  --prometheus FILE  also write the report in the Prometheus text format to FILE
                     (for node_exporter's textfile collector; written atomically)
${COMMON_OPTIONS_HELP}`,
  options: { json: { type: 'boolean' }, prometheus: { type: 'string' } },
  needsRoot: true,

  async run(context) {
    const report = await check(context.config);
    const { stdout } = context.streams;

    const prometheus = context.options.prometheus;
    if (typeof prometheus === 'string') {
      // A scraper may read the file at any moment, so it is written whole, then renamed.
      await writeFile(`${prometheus}.tmp`, prometheusText(report));
      await rename(`${prometheus}.tmp`, prometheus);
    }

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
