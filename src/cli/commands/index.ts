/** Every subcommand, in the order the main help lists them. */
import type { Command } from '../command.js';
import { checkCommand } from './check.js';
import { configCommand } from './config.js';
import { downCommand } from './down.js';
import { planCommand } from './plan.js';
import { showCommand } from './show.js';
import { statusCommand } from './status.js';
import { systemdCommand } from './systemd.js';
import { upCommand } from './up.js';
import { watchCommand } from './watch.js';

export const COMMANDS: readonly Command[] = [upCommand, downCommand, planCommand, statusCommand, checkCommand, showCommand, watchCommand, configCommand, systemdCommand];
