/**
 * Every subcommand, in the order the main help lists them. A command's module, and the
 * library code behind it, is imported only when that command runs, so that `up` does not
 * wait for the modules of `watch` or `systemd` to load.
 */
import type { Command } from '../command.js';

/** A command as the main help lists it. */
export interface CommandEntry {
  name: string;
  /** One line for the main help. */
  summary: string;
  /** Imports the command's module. */
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'up', summary: 'build the namespaces, links, addresses, routes and rules (idempotent)', load: async () => (await import('./up.js')).upCommand },
  { name: 'down', summary: 'remove everything that up created, and nothing else', load: async () => (await import('./down.js')).downCommand },
  { name: 'plan', summary: 'list the changes up would make, read from the live state (--json for scripts)', load: async () => (await import('./plan.js')).planCommand },
  { name: 'status', summary: 'show what exists now (--json for scripts)', load: async () => (await import('./status.js')).statusCommand },
  { name: 'check', summary: 'check the health of the running topology and services', load: async () => (await import('./check.js')).checkCommand },
  { name: 'show', summary: 'print the links, addresses, routes or rules of a namespace (--json for scripts)', load: async () => (await import('./show.js')).showCommand },
  { name: 'watch', summary: 'print link, address, route and rule changes as they happen (--json for scripts)', load: async () => (await import('./watch.js')).watchCommand },
  { name: 'config', summary: 'print the effective configuration (--json for JSON)', load: async () => (await import('./config.js')).configCommand },
  { name: 'systemd', summary: 'print, install or uninstall the units that start the services in their namespaces', load: async () => (await import('./systemd.js')).systemdCommand },
];
