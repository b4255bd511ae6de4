/**
 * Runs `up` and `down` in one process many times and prints, every few rounds, what could
 * leak: open file descriptors, child processes, mounts and namespace files. Started by
 * leaks.test.ts inside a sandbox: `node leak-loop.js ROUNDS CONFIG`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { loadConfig } from '../src/setup/config-load.js';
import { down } from '../src/setup/down.js';
import { up } from '../src/setup/up.js';

export interface LeakSample {
  round: number;
  fds: number;
  children: number;
  mounts: number;
  namespaceFiles: number;
}

async function childProcesses(): Promise<number> {
  let count = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The fourth field, after the parenthesised command name, is the parent pid.
    const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    if (parent === String(process.pid)) count++;
  }
  return count;
}

async function sample(round: number): Promise<LeakSample> {
  return {
    round,
    fds: (await readdir('/proc/self/fd')).length,
    children: await childProcesses(),
    mounts: (await readFile('/proc/self/mountinfo', 'utf8')).trim().split('\n').length,
    namespaceFiles: (await readdir('/run/netns').catch(() => [])).length,
  };
}

const rounds = Number(process.argv[2] ?? '500');
const { config } = await loadConfig(process.argv[3]);
const every = Math.max(1, Math.floor(rounds / 10));

for (let round = 1; round <= rounds; round++) {
  await up(config);
  await down(config);
  if (round === 1 || round % every === 0) process.stdout.write(`${JSON.stringify(await sample(round))}\n`);
}
