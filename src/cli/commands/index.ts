/** Every subcommand, in the order the main help lists them. */
import type { Command } from '../command.js';
import { configCommand } from './config.js';
import { downCommand } from './down.js';
import { planCommand } from './plan.js';
import { statusCommand } from './status.js';
import { upCommand } from './up.js';

export const COMMANDS: readonly Command[] = [upCommand, downCommand, planCommand, statusCommand, configCommand];
