/** The work of each subcommand, printing progress and results. */
import type { TopologyConfig } from '../setup/config.js';
import { formatConfig, type ConfigFormat } from '../setup/config-load.js';
import { down } from '../setup/down.js';
import { status, type TopologyStatus } from '../setup/status.js';
import { up } from '../setup/up.js';
import type { Streams } from './run.js';

export interface CommandContext {
  config: TopologyConfig;
  /** Origin of the configuration: a path or "built-in defaults". */
  source: string;
  streams: Streams;
  json: boolean;
  verbose: boolean;
}

export async function runUp(context: CommandContext): Promise<number> {
  const { stdout } = context.streams;
  stdout.write(`algo-netns up: configuration from ${context.source} ("algo-netns config" prints it)\n`);
  const result = await up(context.config, { onChange: (change) => stdout.write(`+ ${change}\n`) });

  for (const notice of result.notices) stdout.write(`notice: ${notice}\n`);
  const took = `${Math.round(result.elapsedMs)} ms`;
  if (result.changes.length === 0) stdout.write(`up: no change, the topology is already up (${took})\n`);
  else stdout.write(`up: ${result.changes.length} changes made in ${took}\n`);
  return 0;
}

export async function runDown(context: CommandContext): Promise<number> {
  const { stdout } = context.streams;
  const result = await down(context.config, { onChange: (change) => stdout.write(`- ${change}\n`) });

  for (const remaining of result.remainingProcesses) {
    stdout.write(
      `warning: processes still run inside ${remaining.namespace} (pids ${remaining.pids.join(', ')}); ` +
        `the namespace lives on until they exit, so stop their services\n`,
    );
  }
  const took = `${Math.round(result.elapsedMs)} ms`;
  if (result.changes.length === 0) stdout.write(`down: no change, nothing of the topology was there (${took})\n`);
  else stdout.write(`down: ${result.changes.length} changes made in ${took}\n`);
  return 0;
}

export async function runStatus(context: CommandContext): Promise<number> {
  const result = await status(context.config);
  if (context.json) context.streams.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else context.streams.stdout.write(formatStatus(result));
  return result.state === 'up' ? 0 : 1;
}

export function runConfig(config: TopologyConfig, format: ConfigFormat, streams: Streams): number {
  streams.stdout.write(formatConfig(config, format));
  return 0;
}

function formatStatus(result: TopologyStatus): string {
  const lines = [`topology: ${result.state}`, `uplink: ${result.uplink ?? 'none (no IPv4 default route and none configured)'}`];
  for (const service of result.services) {
    const ownership = service.exists ? (service.ours ? 'created by algo-netns' : 'not created by algo-netns') : 'missing';
    lines.push('', `${service.service}: namespace ${service.namespace} (${ownership})`);
    if (service.hostLink) lines.push(`  root side: ${describeLink(service.hostLink)}`);
    for (const link of service.links) lines.push(`  link ${describeLink(link)}`);
    for (const route of service.routes) lines.push(`  route ${route}`);
    for (const missing of service.missing) lines.push(`  MISSING: ${missing}`);
  }
  if (result.rules.length > 0) lines.push('', 'rules in the root namespace:', ...result.rules.map((rule) => `  ${rule}`));
  return `${lines.join('\n')}\n`;
}

function describeLink(link: TopologyStatus['services'][number]['links'][number]): string {
  const state = link.up ? (link.lowerUp ? 'up' : 'up, no carrier') : 'down';
  const kind = link.kind ? ` ${link.kind}` : '';
  const addresses = link.addresses.length > 0 ? ` ${link.addresses.join(' ')}` : '';
  return `${link.name}${kind} ${state}${addresses}`;
}
