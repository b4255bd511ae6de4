/**
 * Runs the integration tests with AVA inside a throwaway network and mount namespace, so that no
 * test worker ever shares the machine's own network namespace.
 *
 * Usage: node dist/integration/runner.js [AVA options] [test files]
 * Without test files it runs dist/integration/**\/*.test.js. An AVA option takes its value after
 * `=` (`--match='*ping*'`), because every argument without a leading `-` counts as a test file.
 * Output is AVA's TAP on stdout, and the runner's own messages go to stderr. The exit code is AVA's.
 *
 * The runner starts outside any sandbox and re-executes itself under `unshare`:
 * - as root: `unshare --mount --net --propagation private`;
 * - as an ordinary user: the same with `--user --map-root-user`, where the kernel allows
 *   unprivileged user namespaces. Where it does not, the runner prints why and exits with 1
 *   instead of skipping, so that a run without integration tests is never mistaken for a pass.
 * Inside, it mounts private tmpfs folders on /run (hiding the host's /run/netns, /run/wireguard
 * and /run/algo-netns), on /etc/netns, and on /var/lib/algo-netns if it exists, brings `lo` up, sets
 * ALGO_NETNS_SANDBOX=1 and starts AVA. With ALGO_NETNS_SANDBOX=1 already set it runs AVA at once,
 * unless it finds itself in the machine's own network namespace (see machineNetworkNamespace).
 */

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

import { machineNetworkNamespace } from './sandbox.js';

/** Set by the runner, once it has entered and set up its sandbox, for AVA and the tests. */
const SANDBOX_VARIABLE = 'ALGO_NETNS_SANDBOX';

/** Set by the outer runner for the re-executed one: which kind of sandbox it entered. */
const KIND_VARIABLE = 'ALGO_NETNS_RUNNER_KIND';

/** Set by the outer runner for the re-executed one: the outer network namespace. */
const OUTER_NETNS_VARIABLE = 'ALGO_NETNS_RUNNER_OUTER_NETNS';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const AVA_CLI = `${PROJECT_ROOT}node_modules/.bin/ava`;
const DEFAULT_TEST_GLOB = 'dist/integration/**/*.test.js';
const AVA_OPTIONS = ['--tap', '--concurrency=2', '--timeout=15m'];

type SandboxKind = 'root' | 'user';

const UNSHARE_OPTIONS: Record<SandboxKind, string[]> = {
  root: ['--mount', '--net', '--propagation', 'private'],
  user: ['--user', '--map-root-user', '--mount', '--net', '--propagation', 'private'],
};

const KIND_DESCRIPTIONS: Record<SandboxKind, string> = {
  root: 'root sandbox (unshare --mount --net)',
  user: 'user-namespace sandbox (unshare --user --map-root-user --mount --net)',
};

function say(message: string): void {
  process.stderr.write(`integration runner: ${message}\n`);
}

function fail(message: string): never {
  say(message);
  process.exit(1);
}

/** Returns a namespace identity such as `net:[4026531840]`, or null where it is not readable. */
function namespaceOf(pid: number | 'self'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

/** Stops the runner if it is in the machine's own network namespace, as far as that is readable. */
function assertNotMachineNamespace(): void {
  const own = namespaceOf('self');
  if (own !== null && own === machineNetworkNamespace()) {
    fail(`refusing to run: this process is in the machine's own network namespace (${own})`);
  }
}

/** Runs a command of the setup and stops the runner if it fails. */
function setupStep(argv: string[]): void {
  const [file, ...args] = argv;
  const result = spawnSync(file ?? '', args, { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    const reason = result.error?.message ?? result.stderr.trim();
    fail(`sandbox setup failed: \`${argv.join(' ')}\`: ${reason}`);
  }
}

/** Finds a sandbox kind that works here, or returns why none does. */
function chooseKind(): SandboxKind | string {
  const kind: SandboxKind = process.getuid?.() === 0 ? 'root' : 'user';
  const probe = spawnSync('unshare', [...UNSHARE_OPTIONS[kind], '--', 'true'], { encoding: 'utf8' });
  if (probe.error === undefined && probe.status === 0) {
    return kind;
  }

  const reason = probe.error?.message ?? probe.stderr.trim();
  const hint =
    kind === 'root'
      ? 'this machine does not allow new network or mount namespaces'
      : 'run as root, or allow unprivileged user namespaces ' +
        '(kernel.unprivileged_userns_clone=1 on Debian, kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04)';
  return `cannot create a ${KIND_DESCRIPTIONS[kind]}: ${reason}; ${hint}`;
}

/** Exits with the child's exit code, or 128 + the signal number as a shell would. */
function exitLike(code: number | null, signal: NodeJS.Signals | null): never {
  process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
}

/** Starts a child with this process's stdio, forwards SIGINT and SIGTERM to it, and exits like it. */
function runAndExitLike(file: string, args: string[], env: NodeJS.ProcessEnv): void {
  const child = spawn(file, args, { stdio: 'inherit', env, cwd: PROJECT_ROOT });
  const forward = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined) {
      process.kill(child.pid, signal);
    }
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);

  child.on('error', (error) => fail(`could not start ${file}: ${error.message}`));
  child.on('exit', exitLike);
}

/** Outside: re-executes this script under unshare. */
function enterSandbox(args: string[]): void {
  const kind = chooseKind();
  if (kind !== 'root' && kind !== 'user') {
    fail(kind);
  }

  const env = { ...process.env, [KIND_VARIABLE]: kind, [OUTER_NETNS_VARIABLE]: namespaceOf('self') ?? '' };
  const script = fileURLToPath(import.meta.url);
  runAndExitLike('unshare', [...UNSHARE_OPTIONS[kind], '--', process.execPath, script, ...args], env);
}

/** Inside the new namespaces: hides the host's state folders, brings lo up, runs AVA. */
function prepareSandbox(kind: SandboxKind, args: string[]): void {
  const own = namespaceOf('self');
  if (own === null || own === process.env[OUTER_NETNS_VARIABLE]) {
    fail(`refusing to run: unshare did not give this process a new network namespace (${own})`);
  }
  assertNotMachineNamespace();

  // --no-mtab keeps libmount from creating /run/mount/utab on the host's /run before the tmpfs
  // covers it.
  setupStep(['mount', '--no-mtab', '-t', 'tmpfs', '-o', 'mode=0755', 'algo-netns-sandbox', '/run']);

  // ip netns exec bind-mounts files from /etc/netns/NAME over /etc. The folder must exist on the
  // host before a private tmpfs can cover it, so a root run creates it there, empty (as iproute2
  // would). Only test files then land in the tmpfs. An ordinary user cannot create it, and then a
  // test that writes there fails instead of touching the host.
  if (!existsSync('/etc/netns') && kind === 'root') {
    mkdirSync('/etc/netns', { mode: 0o755 });
  }
  for (const folder of ['/etc/netns', '/var/lib/algo-netns']) {
    if (existsSync(folder)) {
      setupStep(['mount', '--no-mtab', '-t', 'tmpfs', '-o', 'mode=0755', 'algo-netns-sandbox', folder]);
    }
  }
  setupStep(['ip', 'link', 'set', 'lo', 'up']);

  say(`running AVA in a ${KIND_DESCRIPTIONS[kind]}, network namespace ${own}`);
  runAva(args);
}

/** Starts AVA with TAP output on the given test files, or on all integration tests. */
function runAva(args: string[]): void {
  const files = args.filter((arg) => !arg.startsWith('-'));
  const avaArgs = [...AVA_OPTIONS, ...args, ...(files.length === 0 ? [DEFAULT_TEST_GLOB] : [])];
  // npm run puts node_modules/.bin first in PATH, where packages install commands whose names
  // clash with system tools (@vercel/nft installs "nft"). Tests must run the system ones.
  const path = (process.env.PATH ?? '').split(':').filter((folder) => !folder.includes('node_modules')).join(':');
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path, [SANDBOX_VARIABLE]: '1' };
  delete env[KIND_VARIABLE];
  delete env[OUTER_NETNS_VARIABLE];
  runAndExitLike(process.execPath, [AVA_CLI, ...avaArgs], env);
}

function main(): void {
  const args = process.argv.slice(2);
  const kind = process.env[KIND_VARIABLE];

  if (kind === 'root' || kind === 'user') {
    prepareSandbox(kind, args);
  } else if (process.env[SANDBOX_VARIABLE] === '1') {
    assertNotMachineNamespace();
    say(`${SANDBOX_VARIABLE}=1 is set, so running AVA in the caller's sandbox, network namespace ${namespaceOf('self')}`);
    runAva(args);
  } else {
    enterSandbox(args);
  }
}

main();
