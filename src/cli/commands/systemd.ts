import { realpathSync } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

import { DEFAULT_SOURCE } from '../../setup/config-load.js';
import { installUnitFiles, uninstallUnitFiles, type InstallResult } from '../../setup/systemd/install.js';
import { reloadSystemd } from '../../setup/systemd/reload.js';
import { generateUnitFiles } from '../../setup/systemd/units.js';
import { COMMON_OPTIONS_HELP, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, type CommandContext } from '../command.js';

const ACTIONS = ['print', 'install', 'uninstall'] as const;
type Action = (typeof ACTIONS)[number];

export const systemdCommand: Command = {
  name: 'systemd',
  help: `Usage: algo-netns systemd print|install|uninstall [--config FILE] [--command PATH] [--root DIR]

Generates the systemd units that build the topology at boot and start each service inside its
namespace:
  algo-netns.service         runs "algo-netns up" at start and "algo-netns down" at stop
  UNIT.d/algo-netns.conf     drop-ins for strongswan-starter.service, dnscrypt-proxy.socket,
                             dnscrypt-proxy.service and wg-quick@wg0.service (only for the
                             services the configuration enables)
The units pass the --config file, as an absolute path, to up and down.

  print       print every file after a "# PATH" line; needs no root and changes nothing
  install     write the files under /etc/systemd/system and record them, then run
              "systemctl daemon-reload" if PID 1 is systemd; needs root
  uninstall   remove exactly the files and folders that install created; needs root

  --command PATH  absolute path of the algo-netns program the units run (default: this
                  Node.js binary followed by this script, with symbolic links resolved)
  --root DIR      folder that prefixes every path written, removed or printed (default /);
                  with any other folder, daemon-reload is skipped
${COMMON_OPTIONS_HELP}`,
  options: { command: { type: 'string' }, root: { type: 'string' } },
  maxPositionals: 1,
  // print needs no root, so install and uninstall check for it themselves.
  needsRoot: false,

  async run(context) {
    const { stderr } = context.streams;
    const action = parseAction(context);
    if (typeof action === 'number') return action;

    if (action !== 'print' && process.getuid?.() !== 0) {
      stderr.write(`algo-netns systemd ${action} needs root, because it writes and removes unit files under /etc/systemd/system; run it with sudo.\n`);
      return EXIT_FAILURE;
    }

    const root = await rootFolder(context);
    if (root === null) return EXIT_USAGE;

    if (action === 'uninstall') return uninstall(context, root);

    const command = await unitCommand(context, action === 'install');
    if (command === null) return EXIT_USAGE;

    const configPath = context.source === DEFAULT_SOURCE ? null : resolve(context.source);
    const files = generateUnitFiles(context.config, { command, configPath });

    if (action === 'print') {
      context.streams.stdout.write(files.map((file) => `# ${join(root, file.path)}\n${file.text}`).join('\n'));
      return EXIT_OK;
    }

    return install(context, root, files, configPath);
  },
};

function parseAction(context: CommandContext): Action | number {
  const [action] = context.positionals;
  const expected = `expected one of ${ACTIONS.join(', ')}. Run "algo-netns systemd --help".`;

  if (action === undefined) {
    context.streams.stderr.write(`algo-netns systemd: missing action; ${expected}\n`);
    return EXIT_USAGE;
  }

  if (!(ACTIONS as readonly string[]).includes(action)) {
    context.streams.stderr.write(`algo-netns systemd: unknown action "${action}"; ${expected}\n`);
    return EXIT_USAGE;
  }

  return action as Action;
}

/** Returns the --root folder as an absolute path, or null after reporting why it cannot be used. */
async function rootFolder(context: CommandContext): Promise<string | null> {
  const option = context.options.root;
  const root = typeof option === 'string' ? resolve(option) : '/';

  try {
    if ((await stat(root)).isDirectory()) return root;
  } catch {
    // Reported below, as for a file that is not a folder.
  }

  context.streams.stderr.write(`algo-netns systemd: --root ${String(option)} is not an existing folder; create it first.\n`);
  return null;
}

/**
 * Returns the program words for ExecStart= and ExecStop=: the --command path, or this Node.js
 * binary and this script. Returns null after reporting a --command that cannot be used.
 */
async function unitCommand(context: CommandContext, mustExist: boolean): Promise<string[] | null> {
  const option = context.options.command;

  if (typeof option !== 'string') {
    const script = process.argv[1];
    // The CLI always runs as `node SCRIPT`, so argv[1] is set. The fallback is for programs
    // that call run() without a script.
    return script === undefined ? [process.execPath] : [process.execPath, realpathSync(script)];
  }

  if (!isAbsolute(option)) {
    context.streams.stderr.write(`algo-netns systemd: --command must be an absolute path, because systemd runs it without a working folder; got ${option}.\n`);
    return null;
  }

  if (mustExist) {
    try {
      await access(option, constants.X_OK);
    } catch {
      context.streams.stderr.write(`algo-netns systemd: --command ${option} is not an executable file.\n`);
      return null;
    }
  }

  return [option];
}

async function install(context: CommandContext, root: string, files: Parameters<typeof installUnitFiles>[0], configPath: string | null): Promise<number> {
  const { stdout } = context.streams;
  const result = await installUnitFiles(files, { root, onChange: (change) => stdout.write(`+ ${change}\n`) });

  if (configPath === null) {
    result.notices.push('the units run algo-netns with the built-in defaults; pass --config FILE to have them read a configuration file');
  }

  return finish(context, 'install', root, result, 'the units are already installed');
}

async function uninstall(context: CommandContext, root: string): Promise<number> {
  const { stdout } = context.streams;
  const result = await uninstallUnitFiles({ root, onChange: (change) => stdout.write(`- ${change}\n`) });
  return finish(context, 'uninstall', root, result, 'no unit installed by algo-netns was found');
}

async function finish(context: CommandContext, action: Action, root: string, result: InstallResult, unchanged: string): Promise<number> {
  const { stdout } = context.streams;

  for (const notice of result.notices) stdout.write(`notice: ${notice}\n`);

  if (result.changes.length === 0) {
    stdout.write(`systemd ${action}: no change, ${unchanged}\n`);
    return EXIT_OK;
  }

  stdout.write(`${await reloadSystemd(root)}\n`);
  stdout.write(`systemd ${action}: ${result.changes.length} changes made\n`);
  return EXIT_OK;
}
