import { up } from '../../setup/up.js';
import { COMMON_OPTIONS_HELP, countChanges, EXIT_OK, type Command } from '../command.js';
import { LOCK_OPTION, LOCK_OPTION_HELP, withRunLock } from '../locking.js';
import { printPlan } from './plan.js';

export const upCommand: Command = {
  name: 'up',
  help: `Usage: algo-netns up [--config FILE] [--dry-run] [--adopt] [--no-rollback] [--verbose]

Builds the three service namespaces (wireguard-ns, strongswan-ns, dns-ns by default), each
joined to the root namespace by a veth pair, with transit addresses, routes both ways,
forwarding and rp_filter sysctls, and the rules that keep the VPN client pools apart.
Only what differs from the live state is changed: a second run changes nothing.
Each object is recorded in /run/algo-netns/state.json before it is made, so a run that is
killed is finished by the next up or undone by down. A run that fails is rolled back.
Needs root.

  --dry-run       print the changes up would make (the same list as "algo-netns plan")
  --adopt         take over existing namespaces, links and routes whose names collide with ours
  --no-rollback   keep the changes of a failed run, for debugging
${LOCK_OPTION_HELP}
${COMMON_OPTIONS_HELP}`,
  options: { 'dry-run': { type: 'boolean' }, adopt: { type: 'boolean' }, 'no-rollback': { type: 'boolean' }, ...LOCK_OPTION },
  needsRoot: true,

  async run(context) {
    const adopt = context.options.adopt === true;
    if (context.options['dry-run']) return printPlan(context, adopt, false);

    const { stdout } = context.streams;
    stdout.write(`algo-netns up: configuration from ${context.source} ("algo-netns config" prints it)\n`);
    const result = await withRunLock(context, (config) =>
      up(config, { adopt, rollback: context.options['no-rollback'] !== true, onChange: (change) => stdout.write(`+ ${change}\n`) }),
    );

    for (const notice of result.notices) stdout.write(`notice: ${notice}\n`);
    const took = `${Math.round(result.elapsedMs)} ms`;
    if (result.changes.length === 0) stdout.write(`up: no change, the topology is already up (${took})\n`);
    else stdout.write(`up: ${countChanges(result.changes.length)} made in ${took}\n`);
    return EXIT_OK;
  },
};
