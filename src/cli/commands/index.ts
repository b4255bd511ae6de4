/** Every subcommand, in the order the main help lists them. */
import type { Command } from '../command.js';
import { configCommand } from './config.js';
import { downCommand } from './down.js';
import { statusCommand } from './status.js';
import { upCommand } from './up.js';

export const COMMANDS: readonly Command[] = [upCommand, downCommand, statusCommand, configCommand];
