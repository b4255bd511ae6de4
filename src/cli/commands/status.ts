import { status, type LinkStatus, type TopologyStatus } from '../../setup/status.js';
import { COMMON_OPTIONS_HELP, EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';

export const statusCommand: Command = {
  name: 'status',
  help: `Usage: algo-netns status [--config FILE] [--json] [--verbose]

Shows each service namespace, its links, addresses and routes, and what is missing.
Exits 0 when the topology is fully up, 1 otherwise. Needs root.

  --json          print one JSON object instead of text
${COMMON_OPTIONS_HELP}`,
  options: { json: { type: 'boolean' } },
  needsRoot: true,

  async run(context) {
    const result = await status(context.config);
    if (context.options.json) context.streams.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else context.streams.stdout.write(formatStatus(result));
    return result.state === 'up' ? EXIT_OK : EXIT_FAILURE;
  },
};

function formatStatus(result: TopologyStatus): string {
  const lines = [`topology: ${result.state}`, `uplink: ${result.uplink ?? 'none (no IPv4 default route and none configured)'}`];
  for (const service of result.services) {
    let ownership = 'missing';
    if (service.exists) ownership = service.ours ? 'created by algo-netns' : 'not created by algo-netns';
    lines.push('', `${service.service}: namespace ${service.namespace} (${ownership})`);
    if (service.hostLink) lines.push(`  root side: ${describeLink(service.hostLink)}`);
    for (const link of service.links) lines.push(`  link ${describeLink(link)}`);
    for (const route of service.routes) lines.push(`  route ${route}`);
    for (const missing of service.missing) lines.push(`  MISSING: ${missing}`);
  }
  if (result.rules.length > 0) lines.push('', 'rules in the root namespace:', ...result.rules.map((rule) => `  ${rule}`));
  return `${lines.join('\n')}\n`;
}

function describeLink(link: LinkStatus): string {
  let state = 'down';
  if (link.up) state = link.lowerUp ? 'up' : 'up, no carrier';
  const kind = link.kind ? ` ${link.kind}` : '';
  const addresses = link.addresses.length > 0 ? ` ${link.addresses.join(' ')}` : '';
  return `${link.name}${kind} ${state}${addresses}`;
}
