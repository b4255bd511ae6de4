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
