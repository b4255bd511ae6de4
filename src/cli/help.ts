/** Help text of the command and of each subcommand. */

export const COMMANDS = ['up', 'down', 'status', 'config'] as const;
export type CommandName = (typeof COMMANDS)[number];

const COMMON_OPTIONS = `Options:
  --config FILE   YAML or JSON file; whatever it omits keeps the built-in default
  --verbose       log every netlink request and reply to stderr
  --help          show this help`;

export const MAIN_HELP = `Usage: algo-netns <command> [options]

Isolates the services of an Algo VPN server (WireGuard, strongSwan, the DNS resolver)
in network namespaces of their own.

Commands:
  up        build the namespaces, links, addresses, routes and rules (idempotent)
  down      remove everything that up created, and nothing else
  status    show what exists now (--json for scripts)
  config    print the effective configuration (--json for JSON)

${COMMON_OPTIONS}

Exit codes: 0 success, 1 failure, 2 bad usage or configuration.
Run "algo-netns <command> --help" for the options of one command.`;

export const COMMAND_HELP: Record<CommandName, string> = {
  up: `Usage: algo-netns up [--config FILE] [--verbose]

Builds the three service namespaces (wireguard-ns, strongswan-ns, dns-ns by default), each
joined to the root namespace by a veth pair, with transit addresses, routes both ways,
forwarding and rp_filter sysctls, and the rules that keep the VPN client pools apart.
Only what differs from the live state is changed: a second run changes nothing.
Needs root.

${COMMON_OPTIONS}`,
  down: `Usage: algo-netns down [--config FILE] [--verbose]

Removes the namespaces, links, routes and rules that up created, moves an adopted WireGuard
interface back to the root namespace, and restores the root namespace's sysctls.
Objects algo-netns did not create are left alone. Needs root.

${COMMON_OPTIONS}`,
  status: `Usage: algo-netns status [--config FILE] [--json] [--verbose]

Shows each service namespace, its links, addresses and routes, and what is missing.
Exits 0 when the topology is fully up, 1 otherwise. Needs root.

  --json          print one JSON object instead of text
${COMMON_OPTIONS}`,
  config: `Usage: algo-netns config [--config FILE] [--json]

Prints the effective configuration: the built-in defaults with the file's values over them.
Does not need root and changes nothing.

  --json          print JSON instead of YAML
${COMMON_OPTIONS}`,
};
