import { up } from '../../setup/up.js';
import { COMMON_OPTIONS_HELP, EXIT_OK, type Command } from '../command.js';

export const upCommand: Command = {
  name: 'up',
  summary: 'build the namespaces, links, addresses, routes and rules (idempotent)',
  help: `Usage: algo-netns up [--config FILE] [--verbose]

Builds the three service namespaces (wireguard-ns, strongswan-ns, dns-ns by default), each
joined to the root namespace by a veth pair, with transit addresses, routes both ways,
forwarding and rp_filter sysctls, and the rules that keep the VPN client pools apart.
Only what differs from the live state is changed: a second run changes nothing.
Needs root.

${COMMON_OPTIONS_HELP}`,
  needsRoot: true,

  async run(context) {
    const { stdout } = context.streams;
    stdout.write(`algo-netns up: configuration from ${context.source} ("algo-netns config" prints it)\n`);
    const result = await up(context.config, { onChange: (change) => stdout.write(`+ ${change}\n`) });

    for (const notice of result.notices) stdout.write(`notice: ${notice}\n`);
    const took = `${Math.round(result.elapsedMs)} ms`;
    if (result.changes.length === 0) stdout.write(`up: no change, the topology is already up (${took})\n`);
    else stdout.write(`up: ${result.changes.length} changes made in ${took}\n`);
    return EXIT_OK;
  },
};
