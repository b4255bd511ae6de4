/**
 * The throwaway sandbox every benchmark runs in, entered the way the integration runner
 * enters its own: the process re-executes itself under
 * `unshare --mount --net --propagation private`, then mounts private tmpfs folders on /run,
 * /etc/netns and /var/lib/algo-netns (where it exists) and brings `lo` up. Namespaces,
 * links and routes made by a benchmark exist only inside, and vanish when it exits.
 *
 * Root only: the benchmarks run `ip netns add`, `nsenter` and `/usr/bin/time` inside, and a
 * user namespace would add its own costs to the figures.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

import { machineNetworkNamespace } from '../integration/sandbox.js';

/** Set by the outer process for the re-executed one: the network namespace it left. */
const OUTER_NETNS_VARIABLE = 'ALGO_NETNS_BENCH_OUTER_NETNS';

const UNSHARE_OPTIONS = ['--mount', '--net', '--propagation', 'private'];

const ETC_NETNS = '/etc/netns';

/** Folders hidden behind a private tmpfs, so that nothing written there reaches the host. */
const PRIVATE_FOLDERS = ['/run', ETC_NETNS, '/var/lib/algo-netns'];

/** Raised when the sandbox cannot be entered or set up; the benchmark must not run then. */
export class SandboxError extends Error {
  override name = 'SandboxError';
}

function namespaceOf(pid: number | 'self'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

/** Returns whether this process is the one that `enterSandbox` re-executed. */
export function insideBenchSandbox(): boolean {
  return process.env[OUTER_NETNS_VARIABLE] !== undefined;
}

/**
 * Re-executes the current script under unshare with the same arguments and exits like the
 * child. SIGINT and SIGTERM are passed on to the child by its pid.
 */
export function enterSandbox(): void {
  if (process.getuid?.() !== 0) {
    throw new SandboxError('the benchmarks need root: they create network namespaces with ip netns add inside an unshare sandbox');
  }
  const probe = spawnSync('unshare', [...UNSHARE_OPTIONS, '--', 'true'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new SandboxError(`cannot create a sandbox with unshare ${UNSHARE_OPTIONS.join(' ')}: ${probe.error?.message ?? probe.stderr.trim()}`);
  }

  const script = fileURLToPath(new URL('./main.js', import.meta.url));
  const env = { ...process.env, [OUTER_NETNS_VARIABLE]: namespaceOf('self') ?? '' };
  const child = spawn('unshare', [...UNSHARE_OPTIONS, '--', process.execPath, ...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env,
  });
  const forward = (signal: NodeJS.Signals): void => {
    if (child.pid !== undefined) process.kill(child.pid, signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('error', (error) => {
    process.stderr.write(`bench: could not start unshare: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
}

/**
 * Inside the new namespaces: checks that this really is a new network namespace, hides the
 * host's state folders and brings `lo` up. Throws SandboxError if any step fails.
 */
export function prepareSandbox(): void {
  const own = namespaceOf('self');
  if (own === null || own === process.env[OUTER_NETNS_VARIABLE]) {
    throw new SandboxError(`refusing to run: unshare did not give this process a new network namespace (${own ?? 'unreadable'})`);
  }
  if (own === machineNetworkNamespace()) {
    throw new SandboxError(`refusing to run: this process is in the machine's own network namespace (${own})`);
  }

  // A tmpfs can only cover a folder that exists. `up` writes /etc/netns/NAME/resolv.conf,
  // so /etc/netns is created on the host when missing (empty, as iproute2 would create it,
  // and as the integration runner does) and then covered. /var/lib/algo-netns is covered
  // only where it exists, because nothing in the benchmarks writes there.
  if (!existsSync(ETC_NETNS)) mkdirSync(ETC_NETNS, { mode: 0o755 });
  for (const folder of PRIVATE_FOLDERS) {
    // --no-mtab keeps libmount from writing /run/mount/utab into the host's /run.
    if (existsSync(folder)) setupStep(['mount', '--no-mtab', '-t', 'tmpfs', '-o', 'mode=0755', 'algo-netns-bench', folder]);
  }
  setupStep(['ip', 'link', 'set', 'lo', 'up']);
}

function setupStep(argv: string[]): void {
  const [file, ...args] = argv;
  const result = spawnSync(file ?? '', args, { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    throw new SandboxError(`sandbox setup failed: \`${argv.join(' ')}\`: ${result.error?.message ?? result.stderr.trim()}`);
  }
}

/** Returns the id of the network namespace this process runs in, for the report header. */
export function currentNamespaceId(): string {
  return namespaceOf('self') ?? 'unknown';
}
