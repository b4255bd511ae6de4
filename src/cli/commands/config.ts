import { formatConfig } from '../../setup/config-load.js';
import { COMMON_OPTIONS_HELP, EXIT_OK, type Command } from '../command.js';

export const configCommand: Command = {
  name: 'config',
  help: `Usage: algo-netns config [--config FILE] [--json]

Prints the effective configuration: the built-in defaults with the file's values over them.
Does not need root and changes nothing.

  --json          print JSON instead of YAML
${COMMON_OPTIONS_HELP}`,
  options: { json: { type: 'boolean' } },
  needsRoot: false,

  async run(context) {
    context.streams.stdout.write(formatConfig(context.config, context.options.json ? 'json' : 'yaml'));
    return EXIT_OK;
  },
};
