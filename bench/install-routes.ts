/**
 * A namespace full of routes for the dump benchmarks: N IPv4 /32 unicast routes over one
 * veth, installed by a single `ip -batch` run (one netlink request per route, no process per
 * route).
 */
import { writeFile, rm } from 'node:fs/promises';

import { runCommand } from './measure.js';

/** The namespace that contains the routes. */
export const ROUTES_NAMESPACE = 'bench-routes';

/** The device every route points at. */
const ROUTE_DEVICE = 'r0';

/** Maximum number of routes: the destinations come from 10.0.0.0/8, which has 2^24 addresses. */
const MAX_ROUTES = 1 << 24;

/** Returns the destination of route `index`: 10.0.0.0 + index. */
export function routeDestination(index: number): string {
  return `10.${(index >>> 16) & 0xff}.${(index >>> 8) & 0xff}.${index & 0xff}/32`;
}

/**
 * Creates the namespace with `count` routes in its main table and returns how long the
 * install took in milliseconds. Throws if the namespace already exists.
 */
export async function installRoutes(count: number): Promise<number> {
  if (count > MAX_ROUTES) throw new RangeError(`cannot install ${count} routes: the destinations come from 10.0.0.0/8, so at most ${MAX_ROUTES} fit`);

  await runCommand(['ip', 'netns', 'add', ROUTES_NAMESPACE]);
  const inside = ['ip', '-n', ROUTES_NAMESPACE];
  await runCommand([...inside, 'link', 'add', ROUTE_DEVICE, 'type', 'veth', 'peer', 'name', 'r1']);
  await runCommand([...inside, 'link', 'set', ROUTE_DEVICE, 'up']);
  await runCommand([...inside, 'link', 'set', 'r1', 'up']);

  const batchFile = `/run/${ROUTES_NAMESPACE}.batch`;
  const lines: string[] = [];
  for (let index = 0; index < count; index++) lines.push(`route add ${routeDestination(index)} dev ${ROUTE_DEVICE}`);
  await writeFile(batchFile, `${lines.join('\n')}\n`);

  const started = performance.now();
  try {
    await runCommand([...inside, '-batch', batchFile], { timeoutMs: 30 * 60_000 });
  } finally {
    await rm(batchFile, { force: true });
  }
  return performance.now() - started;
}

/** Deletes the namespace and with it every route in it. */
export async function removeRoutes(): Promise<void> {
  await runCommand(['ip', 'netns', 'delete', ROUTES_NAMESPACE]);
}
