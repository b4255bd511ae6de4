/** Finding the uplink: the configured interface, or the device of the IPv4 default route. */
import { AF_INET, RT_TABLE_MAIN } from '../netlink/constants.js';
import { routeTableOf } from '../netlink/route.js';
import type { NetnsHandle } from '../ops/handle.js';
import { getLink, listLinks } from '../ops/links.js';
import { listRoutes } from '../ops/routes.js';
import { SetupError } from './setup-error.js';

/** Returns the uplink's name, or null when none is configured and there is no default route. */
export async function findUplink(root: NetnsHandle, configured: string | null): Promise<string | null> {
  if (configured !== null) {
    if (!(await getLink(root, configured))) throw new SetupError(`uplink ${configured} (from the configuration) not found in the root namespace`);
    return configured;
  }

  const routes = await listRoutes(root, 4);
  const defaultRoute = routes.find((route) => route.family === AF_INET && route.dstLength === 0 && routeTableOf(route) === RT_TABLE_MAIN && route.attributes.oif !== undefined);
  if (!defaultRoute) return null;

  const links = await listLinks(root);
  return links.find((link) => link.index === defaultRoute.attributes.oif)?.attributes.ifname ?? null;
}
