import { up } from '../../setup/up.js';
import { COMMON_OPTIONS_HELP, countChanges, EXIT_OK, type Command, type CommandContext } from '../command.js';

export const planCommand: Command = {
  name: 'plan',
  help: `Usage: algo-netns plan [--config FILE] [--json] [--adopt] [--verbose]

Lists, in order, the exact changes "algo-netns up" would make now, computed from the live
state without changing anything. "up --dry-run" prints the same list. Needs root, because
reading other namespaces does.

  --json          print { "changes": [...], "notices": [...] }
  --adopt         plan as "up --adopt" would
${COMMON_OPTIONS_HELP}`,
  options: { json: { type: 'boolean' }, adopt: { type: 'boolean' } },
  needsRoot: true,

  run(context) {
    return printPlan(context, context.options.adopt === true, context.options.json === true);
  },
};

/** Prints the dry-run change list of `up`. */
export async function printPlan(context: CommandContext, adopt: boolean, json: boolean): Promise<number> {
  const result = await up(context.config, { dryRun: true, adopt });
  const { stdout } = context.streams;
  if (json) {
    stdout.write(`${JSON.stringify({ changes: result.changes, notices: result.notices }, null, 2)}\n`);
    return EXIT_OK;
  }

  for (const change of result.changes) stdout.write(`+ ${change}\n`);
  for (const notice of result.notices) stdout.write(`notice: ${notice}\n`);
  if (result.changes.length === 0) stdout.write('plan: no change, the topology is already up\n');
  else stdout.write(`plan: ${countChanges(result.changes.length)}\n`);
  return EXIT_OK;
}
