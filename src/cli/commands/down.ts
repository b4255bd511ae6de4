import { down } from '../../setup/down.js';
import { COMMON_OPTIONS_HELP, countChanges, EXIT_OK, type Command } from '../command.js';
import { LOCK_OPTION, LOCK_OPTION_HELP, withRunLock } from '../locking.js';

export const downCommand: Command = {
  name: 'down',
  help: `Usage: algo-netns down [--adopt] [--lock-timeout SECONDS] [--config FILE] [--verbose]

Removes the namespaces, links, routes and rules that up created, moves an adopted WireGuard
interface back to the root namespace, and restores the root namespace's sysctls.
Objects algo-netns did not create are left alone. Needs root.

  --adopt         also remove the namespaces and veth links the configuration names, as if
                  up had created them (to clean up after a lost or unreadable state file)
${LOCK_OPTION_HELP}
${COMMON_OPTIONS_HELP}`,
  options: { adopt: { type: 'boolean' }, ...LOCK_OPTION },
  needsRoot: true,

  async run(context) {
    const { stdout } = context.streams;
    const adopt = context.options.adopt === true;
    const result = await withRunLock(context, (config) => down(config, { adopt, onChange: (change) => stdout.write(`- ${change}\n`) }), true);

    for (const remaining of result.remainingProcesses) {
      stdout.write(
        `warning: processes still run inside ${remaining.namespace} (pids ${remaining.pids.join(', ')}); ` +
          `the namespace lives on until they exit, so stop their services\n`,
      );
    }
    const took = `${Math.round(result.elapsedMs)} ms`;
    if (result.changes.length === 0) stdout.write(`down: no change, nothing of the topology was there (${took})\n`);
    else stdout.write(`down: ${countChanges(result.changes.length)} made in ${took}\n`);
    return EXIT_OK;
  },
};
