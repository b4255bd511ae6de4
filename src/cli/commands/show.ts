import { openCurrentNamespace, openNamedNamespace, type NetnsHandle } from '../../ops/handle.js';
import { namespaceExists, validateNamespaceName } from '../../ops/netns.js';
import {
  addressLine,
  linkLine,
  routeLine,
  ruleLine,
  showAddresses,
  showLinks,
  showRoutes,
  showRules,
} from '../../ops/show.js';
import { COMMON_OPTIONS_HELP, EXIT_OK, type Command, type CommandContext } from '../command.js';
import { UsageError } from '../locking.js';

type ShowObject = 'link' | 'address' | 'route' | 'rule';

// The objects, with the short forms `ip` accepts for them.
const OBJECTS: Readonly<Record<string, ShowObject>> = {
  link: 'link',
  l: 'link',
  address: 'address',
  addr: 'address',
  a: 'address',
  route: 'route',
  r: 'route',
  rule: 'rule',
  ru: 'rule',
};

export const showCommand: Command = {
  name: 'show',
  help: `Usage: algo-netns show link|address|route|rule [--namespace NS] [--json] [--verbose]

Prints what the kernel holds, read over netlink by this library: the links, the addresses
(grouped by link), the routes of every table, or the policy rules, IPv4 then IPv6. The JSON
uses the field names of \`ip -j -d\` (iproute2) and adds table, protocol and scope to every
route and the action to every rule. Changes nothing. Reading another namespace needs root.

  --namespace NS  read the namespace /run/netns/NS instead of the current one
  --json          print a JSON array instead of one line per object
${COMMON_OPTIONS_HELP}`,
  options: { namespace: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 1,
  needsRoot: false,

  async run(context) {
    const object = parseObject(context.positionals[0]);
    const ns = await openFromOption(context);
    try {
      const output = context.options.json ? `${JSON.stringify(await readJson(ns, object), null, 2)}\n` : await readText(ns, object);
      context.streams.stdout.write(output);
    } finally {
      await ns.close();
    }
    return EXIT_OK;
  },
};

function parseObject(word: string | undefined): ShowObject {
  if (word === undefined) throw new UsageError('missing what to show: expected link, address, route or rule');
  const object = OBJECTS[word];
  if (object === undefined) throw new UsageError(`unknown object "${word}": expected link, address, route or rule`);
  return object;
}

/** Opens the namespace that --namespace names, or the current one without it. */
export async function openFromOption(context: CommandContext): Promise<NetnsHandle> {
  const name = context.options.namespace;
  if (typeof name !== 'string') return openCurrentNamespace();

  try {
    validateNamespaceName(name);
  } catch (error) {
    throw new UsageError(`invalid --namespace: ${(error as Error).message}`);
  }
  if (!(await namespaceExists(name))) throw new Error(`namespace ${name} not found: /run/netns/${name} does not exist or is not a namespace`);
  return openNamedNamespace(name);
}

async function readJson(ns: NetnsHandle, object: ShowObject): Promise<unknown[]> {
  switch (object) {
    case 'link':
      return showLinks(ns);
    case 'address':
      return showAddresses(ns);
    case 'route':
      return showRoutes(ns);
    case 'rule':
      return showRules(ns);
  }
}

async function readText(ns: NetnsHandle, object: ShowObject): Promise<string> {
  let lines: string[];
  switch (object) {
    case 'link':
      lines = (await showLinks(ns)).map(linkLine);
      break;
    case 'address':
      lines = (await showAddresses(ns)).flatMap((link) => link.addr_info.map((address) => addressLine(address, link)));
      break;
    case 'route':
      lines = (await showRoutes(ns)).map(routeLine);
      break;
    case 'rule':
      lines = (await showRules(ns)).map(ruleLine);
      break;
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
