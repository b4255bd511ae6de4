/**
 * The benchmarks: `npm run bench -- [--quick | --long] [--json] [--only=SUITE,...]`.
 *
 * The process first re-executes itself in a throwaway sandbox (see sandbox.ts) and refuses
 * to run in the machine's own network namespace. Inside, it runs the suites in order and
 * prints a table, or with --json one object { machine, results }. Progress goes to stderr.
 * Every result is a ratio against a peer measured in the same run; nothing here fails on a
 * missed target. The exit code is 1 when a suite failed to run (the others still report).
 */
import { availableParallelism, loadavg, release } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';

import { benchDecodeOnly } from './decode-only.js';
import { benchDumpRoutes } from './dump-routes.js';
import { benchEvents } from './events.js';
import { progress } from './measure.js';
import { parseOptions, SIZES, USAGE, type BenchOptions, type SuiteName } from './options.js';
import { formatJson, formatTable, type MachineInfo, type ReportEntry } from './report.js';
import { currentNamespaceId, enterSandbox, insideBenchSandbox, prepareSandbox, SandboxError } from './sandbox.js';
import { benchScale } from './scale.js';
import { benchTopology } from './topology.js';

/** The package.json script that runs this file after a build. */
const NPM_SCRIPT = 'npm run bench';

function cpuModel(): string {
  const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return match?.[1]?.trim() ?? 'unknown';
}

function machineInfo(argv: readonly string[], loadBefore: number): MachineInfo & { loadAverage: { start: number; end: number } } {
  return {
    nproc: availableParallelism(),
    cpu: cpuModel(),
    node: process.version,
    kernel: release(),
    command: [NPM_SCRIPT, ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
    // One-minute load averages: other work on the machine skews absolute figures more than ratios.
    loadAverage: { start: loadBefore, end: loadavg()[0] ?? 0 },
  };
}

async function runSuite(name: SuiteName, options: BenchOptions): Promise<ReportEntry[]> {
  const sizes = SIZES[options.mode];
  switch (name) {
    case 'dump':
      return benchDumpRoutes(sizes, options.cpuProfileDirectory);
    case 'decode':
      return benchDecodeOnly(sizes);
    case 'topology':
      return benchTopology(sizes);
    case 'scale':
      return benchScale(sizes);
    case 'events':
      return benchEvents(sizes);
  }
}

async function runInsideSandbox(options: BenchOptions, argv: readonly string[]): Promise<void> {
  prepareSandbox();
  progress(`running ${options.mode} benchmarks in a sandbox, network namespace ${currentNamespaceId()}`);
  const loadBefore = loadavg()[0] ?? 0;
  const started = performance.now();

  const entries: ReportEntry[] = [];
  let failed = false;
  for (const suite of options.suites) {
    try {
      entries.push(...(await runSuite(suite, options)));
    } catch (error) {
      // The other suites still run; the exit code reports the failure.
      failed = true;
      progress(`suite ${suite} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      entries.push({ name: `suite ${suite}`, skipped: `failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` });
    }
  }

  const machine = machineInfo(argv, loadBefore);
  progress(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (options.jsonFile !== null) writeFileSync(options.jsonFile, formatJson(entries, machine));
  if (options.json) {
    process.stdout.write(formatJson(entries, machine));
  } else {
    process.stdout.write(`${machine.command}: ${machine.nproc} CPUs (${machine.cpu}), Node ${machine.node}, Linux ${machine.kernel}, load ${machine.loadAverage.start.toFixed(2)} -> ${machine.loadAverage.end.toFixed(2)}\n\n`);
    process.stdout.write(formatTable(entries));
  }
  if (failed) process.exitCode = 1;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let options: BenchOptions;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }

  if (!insideBenchSandbox()) {
    enterSandbox();
    return;
  }
  await runInsideSandbox(options, argv);
}

try {
  await main();
} catch (error) {
  // A sandbox problem is the user's to fix, so its message suffices; anything else is a bug.
  let detail = String(error);
  if (error instanceof SandboxError) detail = error.message;
  else if (error instanceof Error) detail = error.stack ?? error.message;
  process.stderr.write(`bench: ${detail}\n`);
  process.exit(1);
}
