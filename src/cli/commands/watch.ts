import { AF_INET6, LINK_QUERY_EXT_MASK, RTM_GETLINK } from '../../netlink/constants.js';
import { decodeLink, encodeLink, linkMessage, type LinkMessage } from '../../netlink/link.js';
import { messageTypeName } from '../../netlink/names.js';
import { Subscription, type SubscriptionEvent } from '../../netlink/subscription.js';
import { ROOT_LABEL } from '../../ops/handle.js';
import { listNamespaces, namespaceExists, validateNamespaceName } from '../../ops/netns.js';
import { startRelay } from '../../ops/relay/client.js';
import { addressLine, addressView, linkLine, linkView, routeLine, routeView, ruleLine, ruleView } from '../../ops/show.js';
import { COMMON_OPTIONS_HELP, EXIT_FAILURE, EXIT_OK, type Command, type CommandContext, type Output } from '../command.js';
import { UsageError } from '../locking.js';

/** How often --all looks for namespaces added to or removed from /run/netns, in milliseconds. */
const NAMESPACE_POLL_MS = 1000;

export const watchCommand: Command = {
  name: 'watch',
  help: `Usage: algo-netns watch [--namespace NS | --all] [--json]

Prints one line for each change the kernel reports: links, addresses, routes and rules,
added ("new", which includes changes) or deleted ("del"), each tagged with its namespace.
Like \`ip monitor link address route rule\`. When the kernel drops notifications because
they came faster than they were read, a line says so and a snapshot of the whole state
follows. Runs until SIGINT or SIGTERM, then exits 0. Watching another namespace needs root.

  --namespace NS  watch the namespace /run/netns/NS instead of the current one
  --all           watch the current namespace and every one in /run/netns, including
                  namespaces added while it runs
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
      () => watched.delete(name),
      (error: Error) => fail(new Error(`watching ${label(name)} failed: ${error.message}`, { cause: error })),
    );
  };

  let poll: NodeJS.Timeout | null = null;
  try {
    const initial: (string | null)[] = typeof namespace === 'string' ? [namespace] : [null];
    if (all) initial.push(...(await listNamespaces()));
    for (const name of initial) await start(name);
    context.streams.stderr.write(`algo-netns watch: watching ${initial.map(label).join(', ')}; stop with Ctrl-C\n`);

    if (all) {
      poll = setInterval(() => {
        void followNamespaces(watched, start, out, json).catch(fail);
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
  const subscription = await Subscription.open(() => startRelay(name));

  // Joined first, listed second: a link added in between shows up in both, never in neither.
  const links = await subscription.session.dumpAll(RTM_GETLINK, encodeLink(linkMessage({ attributes: { extMask: LINK_QUERY_EXT_MASK } })), `list links in ${label(name)}`, decodeLink, { retries: 3 });
  return { name, subscription, links: new Map(links.map((link) => [link.index, link])) };
}

/** Starts watching namespaces that appeared in /run/netns and stops watching those that left. */
async function followNamespaces(
  watched: Map<string | null, Watched>,
  start: (name: string, announce: () => void) => Promise<void>,
  out: Output,
  json: boolean,
): Promise<void> {
  const present = new Set(await listNamespaces());
  for (const name of present) {
    if (watched.has(name) || !(await namespaceExists(name))) continue;
    await start(name, () => write(out, json, name, { event: 'namespace', change: 'new' }, 'namespace new'));
  }
  for (const [name, entry] of watched) {
    if (name === null || present.has(name)) continue;
    watched.delete(name);
    write(out, json, name, { event: 'namespace', change: 'del' }, 'namespace del');
    await entry.subscription.close();
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
