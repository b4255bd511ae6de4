/**
 * Running the algo-netns command inside a sandbox, as an operator would on a host.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunOptions, RunResult, Sandbox } from './sandbox.js';

/** The compiled command, as `npx algo-netns` would run it. */
export const CLI_PATH = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Runs `algo-netns ARGS` inside the sandbox; a non-zero exit is returned, not thrown. */
export function runCli(sandbox: Sandbox, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return sandbox.run([process.execPath, CLI_PATH, ...args], { allowFailure: true, timeoutMs: 60_000, ...options });
}

const folders: string[] = [];
process.on('exit', () => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** Writes a configuration file into a fresh temporary folder (removed when the test process exits) and returns its path. */
export async function writeConfigFile(name: string, text: string): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'algo-netns-config-'));
  folders.push(folder);
  const path = join(folder, name);
  await writeFile(path, text);
  return path;
}

/** The user the tests run the command as when they need someone who is not root. */
export const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/**
 * Returns null when uid 65534 can run the compiled command here, or the reason it cannot: a
 * checkout under a folder only root may enter (mktemp -d makes one) hides it from that user.
 */
export async function probeCommandAsNobody(sandbox: Sandbox): Promise<string | null> {
  const result = await sandbox.run([...NOBODY, process.execPath, CLI_PATH, '--version'], { allowFailure: true });
  if (result.code === 0) return null;
  return `uid 65534 cannot run ${CLI_PATH} (a parent folder is closed to other users): ${result.stderr.trim().split('\n')[0] ?? ''}`;
}
