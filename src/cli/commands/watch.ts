import { stat } from 'node:fs/promises';

import { AF_INET6, LINK_QUERY_EXT_MASK, RTM_GETLINK } from '../../netlink/constants.js';
import { decodeLink, encodeLink, linkMessage, type LinkMessage } from '../../netlink/link.js';
import { messageTypeName } from '../../netlink/names.js';
import { Subscription, type SubscriptionEvent } from '../../netlink/subscription.js';
import { ROOT_LABEL } from '../../ops/handle.js';
import { listNamespaces, namespaceExists, namespacePath, validateNamespaceName } from '../../ops/netns.js';
import { startRelay, type RelayTransport } from '../../ops/relay/client.js';
import { addressLine, addressView, linkLine, linkView, routeLine, routeView, ruleLine, ruleView } from '../../ops/show.js';
import { COMMON_OPTIONS_HELP, EXIT_FAILURE, EXIT_OK, type Command, type CommandContext, type Output } from '../command.js';
import { UsageError } from '../locking.js';

/** How often watch looks for namespaces added to, removed from or replaced in /run/netns, in milliseconds. */
const NAMESPACE_POLL_MS = 1000;

export const watchCommand: Command = {
  name: 'watch',
  help: `Usage: algo-netns watch [--namespace NS | --all] [--json] [--verbose]

Prints one line for each change the kernel reports: links, addresses, routes and rules,
added ("new", which includes changes) or deleted ("del"), each tagged with its namespace.
Like \`ip monitor link address route rule\`. When the kernel drops notifications because
they came faster than they were read, a line says so and a snapshot of the whole state
follows. Runs until SIGINT or SIGTERM, then exits 0. Watching another namespace needs root.
Namespaces are told apart by inode, not by name, and checked once a second: a namespace
deleted and created again under the same name counts as a different one.

  --namespace NS  watch the namespace /run/netns/NS instead of the current one; exits 1
                  when NS is deleted or replaced by a new namespace of the same name
  --all           watch the current namespace and every one in /run/netns, including
                  namespaces added while it runs; a replaced namespace is printed as
                  "namespace del" and "namespace new", and its new instance is watched
  --json          print one JSON object per line: "namespace" (null for the current
                  one), "event", "change" ("new" or "del"), then the fields of \`ip -j\`
${COMMON_OPTIONS_HELP}`,
  options: { namespace: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  needsRoot: false,

  async run(context) {
    return watch(context);
  },
};

/** The subscription of one namespace and the links seen there, to print names for indexes. */
interface Watched {
  name: string | null;
  /** Inode of the namespace that the relay entered; null for the current namespace. */
  inode: bigint | null;
  subscription: Subscription;
  links: Map<number, LinkMessage>;
}

async function watch(context: CommandContext): Promise<number> {
  const namespace = context.options.namespace;
  const all = context.options.all === true;
  if (typeof namespace === 'string' && all) throw new UsageError('--namespace and --all exclude each other');
  if (typeof namespace === 'string') checkName(namespace);

  const out = context.streams.stdout;
  const json = context.options.json === true;
  const watched = new Map<string | null, Watched>();
  let failure: Error | null = null;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const fail = (error: Error) => {
    failure ??= error;
    wake();
  };
  const onSignal = () => wake();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // `announce` runs once the subscription is in place and before its first event, so every
  // change in the namespace after the "namespace new" line shows up.
  const start = async (name: string | null, announce: () => void = () => undefined) => {
    const entry = await subscribe(name);
    watched.set(name, entry);
    announce();
    void pump(entry, out, json).then(
      // A replaced namespace has a new entry under the same name by now; keep that one.
      () => watched.get(name) === entry && watched.delete(name),
      (error: Error) => fail(new Error(`watching ${label(name)} failed: ${error.message}`, { cause: error })),
    );
  };

  let poll: NodeJS.Timeout | null = null;
  try {
    const initial: (string | null)[] = typeof namespace === 'string' ? [namespace] : [null];
    if (all) initial.push(...(await listNamespaces()));
    for (const name of initial) await start(name);
    context.streams.stderr.write(`algo-netns watch: watching ${initial.map(label).join(', ')}; stop with Ctrl-C\n`);

    // A poll that starts relays can take longer than the interval; the next one waits for it,
    // so that no namespace gets two subscriptions.
    let polling = false;
    const check = async (): Promise<void> => {
      if (all) {
        await followNamespaces(watched, start, out, json);
      } else if (typeof namespace === 'string') {
        const problem = await checkStillThere(watched.get(namespace));
        if (problem) fail(new Error(problem));
      }
    };
    if (all || typeof namespace === 'string') {
      poll = setInterval(() => {
        if (polling) return;
        polling = true;
        void check()
          .catch(fail)
          .finally(() => (polling = false));
      }, NAMESPACE_POLL_MS);
    }
    await stopped;
  } finally {
    if (poll) clearInterval(poll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([...watched.values()].map((entry) => entry.subscription.close()));
  }

  if (failure) {
    context.streams.stderr.write(`algo-netns watch: ${(failure as Error).message}\n`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

function checkName(name: string): void {
  try {
    validateNamespaceName(name);
  } catch (error) {
    throw new UsageError(`invalid --namespace: ${(error as Error).message}`);
  }
}

function label(name: string | null): string {
  return name ?? ROOT_LABEL;
}

/**
 * Subscribes in the namespace through a relay process of its own, also for the current
 * namespace: the npm `netlink` package aborts the process whose socket overruns, and a relay
 * that dies is replaced (see Subscription).
 */
async function subscribe(name: string | null): Promise<Watched> {
  if (name !== null && !(await namespaceExists(name))) throw new Error(`namespace ${name} not found: /run/netns/${name} does not exist or is not a namespace`);
  let firstRelay: RelayTransport | null = null;
  // NOTE: a relay that the subscription opens again after a failure enters whatever namespace
  // has the name by then. The poll compares against the first relay's namespace, so it still
  // detects a replacement and subscribes anew, but events from the new namespace may come first.
  const subscription = await Subscription.open(async () => {
    const relay = await startRelay(name);
    firstRelay ??= relay;
    return relay;
  });
  let inode: bigint | null = null;
  try {
    // The relay's own namespace, not a second look at /run/netns/NAME, which may have changed.
    if (name !== null && firstRelay !== null) inode = (await stat(`/proc/${(firstRelay as RelayTransport).pid}/ns/net`, { bigint: true })).ino;
  } catch (error) {
    await subscription.close();
    throw new Error(`reading the namespace of the relay for ${name} failed: ${(error as Error).message}`, { cause: error });
  }

  // Joined first, listed second: a link added in between shows up in both, never in neither.
  const links = await subscription.session.dumpAll(RTM_GETLINK, encodeLink(linkMessage({ attributes: { extMask: LINK_QUERY_EXT_MASK } })), `list links in ${label(name)}`, decodeLink, { retries: 3 });
  return { name, inode, subscription, links: new Map(links.map((link) => [link.index, link])) };
}

/**
 * Returns the inode of the namespace mounted on /run/netns/NAME, or null when the name is
 * gone. A name whose mount is gone but whose file is left shows the file's own inode, which
 * matches no namespace.
 */
async function namespaceInode(name: string): Promise<bigint | null> {
  try {
    return (await stat(namespacePath(name), { bigint: true })).ino;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Returns why the watched namespace cannot be followed any more, or null while it is still there. */
async function checkStillThere(entry: Watched | undefined): Promise<string | null> {
  if (!entry || entry.name === null) return null;
  const inode = await namespaceInode(entry.name);
  if (inode === entry.inode) return null;
  if (inode === null) return `namespace ${entry.name} was deleted; watch stopped`;
  return `namespace ${entry.name} was replaced by a new namespace of the same name; run watch again`;
}

/**
 * Stops watching namespaces that left /run/netns or whose name now refers to another namespace,
 * then starts watching the new ones. A replaced namespace thus prints "namespace del" and
 * then "namespace new".
 */
async function followNamespaces(
  watched: Map<string | null, Watched>,
  start: (name: string, announce: () => void) => Promise<void>,
  out: Output,
  json: boolean,
): Promise<void> {
  for (const [name, entry] of [...watched]) {
    if (name === null || (await namespaceInode(name)) === entry.inode) continue;
    watched.delete(name);
    write(out, json, name, { event: 'namespace', change: 'del' }, 'namespace del');
    await entry.subscription.close();
  }

  for (const name of await listNamespaces()) {
    if (watched.has(name) || !(await namespaceExists(name))) continue;
    await start(name, () => write(out, json, name, { event: 'namespace', change: 'new' }, 'namespace new'));
  }
}

async function pump(entry: Watched, out: Output, json: boolean): Promise<void> {
  for await (const event of entry.subscription) {
    const [object, text] = describeEvent(event, entry.links);
    write(out, json, entry.name, object, text);
    trackLinks(event, entry.links);
  }
}

function write(out: Output, json: boolean, name: string | null, object: Record<string, unknown>, text: string): void {
  out.write(json ? `${JSON.stringify({ namespace: name, ...object })}\n` : `[${label(name)}] ${text}\n`);
}

function trackLinks(event: SubscriptionEvent, links: Map<number, LinkMessage>): void {
  if (event.kind === 'link') {
    if (event.action === 'new') links.set(event.link.index, event.link);
    else links.delete(event.link.index);
  } else if (event.kind === 'snapshot') {
    links.clear();
    for (const link of event.links) links.set(link.index, link);
  }
}

/** Returns an event as a JSON object and as a line of text. */
function describeEvent(event: SubscriptionEvent, links: ReadonlyMap<number, LinkMessage>): [Record<string, unknown>, string] {
  switch (event.kind) {
    case 'link': {
      const view = linkView(event.link, links);
      return [{ event: 'link', change: event.action, ...view }, `link ${event.action} ${linkLine(view)}`];
    }
    case 'address': {
      const view = addressView(event.address);
      const link = { ifindex: event.address.index, ifname: links.get(event.address.index)?.attributes.ifname };
      return [{ event: 'address', change: event.action, ...link, ...view }, `address ${event.action} ${addressLine(view, link)}`];
    }
    case 'route': {
      const view = routeView(event.route, links);
      const family = event.route.family === AF_INET6 ? 'inet6' : 'inet';
      return [{ event: 'route', change: event.action, family, ...view }, `route ${event.action} ${routeLine(view)}`];
    }
    case 'rule': {
      const view = ruleView(event.rule);
      const family = event.rule.family === AF_INET6 ? 'inet6' : 'inet';
      return [{ event: 'rule', change: event.action, family, ...view }, `rule ${event.action} ${ruleLine(view)}`];
    }
    case 'overrun':
      return [{ event: 'overrun', reason: event.reason }, `overrun: ${event.reason}; a snapshot follows`];
    case 'snapshot': {
      const byIndex = new Map(event.links.map((link) => [link.index, link]));
      const object = {
        event: 'snapshot',
        consistent: event.consistent,
        links: event.links.map((link) => linkView(link, byIndex)),
        addresses: event.addresses.map((address) => ({ ifindex: address.index, ...addressView(address) })),
        routes: event.routes.map((route) => routeView(route, byIndex)),
        rules: event.rules.map(ruleView),
      };
      const note = event.consistent ? '' : ' (dumps kept being interrupted, so lists may miss or repeat entries)';
      return [object, `snapshot: ${event.links.length} links, ${event.addresses.length} addresses, ${event.routes.length} routes, ${event.rules.length} rules${note}`];
    }
    case 'undecodable':
      return [
        { event: 'undecodable', message_type: messageTypeName(event.messageType), error: event.error.message },
        `undecodable ${messageTypeName(event.messageType)} notification: ${event.error.message}`,
      ];
  }
}
