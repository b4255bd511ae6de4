/**
 * Throwaway named namespaces for the netlink integration tests, and `ip` run against them.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

import type { ExecutionContext } from 'ava';

import { openNamedNamespace, type NetnsHandle } from '../../src/ops/handle.js';
import { createNamespace, deleteNamespace } from '../../src/ops/netns.js';
import type { SessionOptions } from '../../src/netlink/session.js';

const run = promisify(execFile);

/** Makes a namespace and a handle on it, both removed when the test ends. */
export async function throwawayNamespace(t: ExecutionContext, label: string, options: SessionOptions = {}): Promise<NetnsHandle> {
  const name = `nl-${label}-${randomBytes(3).toString('hex')}`;
  await createNamespace(name);
  const handle = await openNamedNamespace(name, options);
  t.teardown(async () => {
    await handle.close();
    await deleteNamespace(name);
  });
  return handle;
}

/** Runs `ip -n NS ARGS` and returns its stdout; a failure rejects with ip's stderr. */
export async function ip(namespace: string, args: string[]): Promise<string> {
  const { stdout } = await run('ip', ['-n', namespace, ...args], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** Runs `ip -n NS -j ARGS` and parses the JSON. */
export async function ipJson<T>(namespace: string, args: string[]): Promise<T> {
  const stdout = await ip(namespace, ['-j', ...args]);
  return JSON.parse(stdout.trim() === '' ? '[]' : stdout) as T;
}

/** Feeds `lines` to `ip -n NS -batch -` and resolves when it exits; rejects with its stderr if it fails. */
export function ipBatch(namespace: string, lines: readonly string[]): Promise<void> {
  const child = spawn('ip', ['-n', namespace, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(`${lines.join('\n')}\n`);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ip -batch in ${namespace} exited with ${code}: ${stderr.trim()}`))));
  });
}

/** Returns `count` distinct /32 addresses from 10.100.0.0 up, as `ip addr` lines for `device`. */
export function addressLines(verb: 'add' | 'del', device: string, count: number, first = 0): string[] {
  return Array.from({ length: count }, (_, i) => {
    const n = first + i;
    return `address ${verb} 10.${100 + (n >> 16)}.${(n >> 8) & 0xff}.${n & 0xff}/32 dev ${device}`;
  });
}
