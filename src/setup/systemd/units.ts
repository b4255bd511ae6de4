/** Every file that `algo-netns systemd install` writes, generated from the configuration. */
import type { TopologyConfig } from '../config.js';
import { dropIns } from './drop-ins.js';
import { mainUnitText } from './main-unit.js';
import { dropInPath, MAIN_UNIT, UNIT_DIRECTORY } from './names.js';

export interface UnitFile {
  /** Absolute path on the target host, such as /etc/systemd/system/algo-netns.service. */
  path: string;
  text: string;
}

export interface UnitOptions {
  /** Program and leading arguments that run algo-netns; the first word is an absolute path. */
  command: readonly string[];
  /** Absolute path of the configuration file that up and down read, or null for the built-in defaults. */
  configPath: string | null;
}

/** Returns algo-netns.service first, then one drop-in per service unit, for the enabled services. */
export function generateUnitFiles(config: TopologyConfig, options: UnitOptions): UnitFile[] {
  const services = dropIns(config);
  const main: UnitFile = {
    path: `${UNIT_DIRECTORY}/${MAIN_UNIT}`,
    text: mainUnitText({ command: options.command, configPath: options.configPath, serviceUnits: services.map((dropIn) => dropIn.unit) }),
  };

  return [main, ...services.map((dropIn) => ({ path: dropInPath(dropIn.unit), text: dropIn.text }))];
}
