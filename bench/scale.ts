/**
 * Benchmark 4: N service namespaces, built by bench/scale-builder.ts with our operations and
 * by bench/scripts/scale-ip.sh with iproute2. Both are whole commands timed from spawn to
 * exit. The builder also reports its time without Node's start-up, and the per-namespace
 * flatness check uses that. The rounds of a namespace count alternate which side goes
 * first, and everything is removed between runs.
 */
import { fileURLToPath } from 'node:url';

import { measureCommand, mebibytes, median, progress, runCommand } from './measure.js';
import type { BenchSizes } from './options.js';
import { compare, type ReportEntry } from './report.js';
import type { ScaleReport } from './scale-builder.js';

const BUILDER = fileURLToPath(new URL('./scale-builder.js', import.meta.url));
const IP_SCRIPT = fileURLToPath(new URL('../../bench/scripts/scale-ip.sh', import.meta.url));

/** Namespaces the builder makes at once in the concurrent variant. */
const CONCURRENCY = 8;

/** Counts at and below this run three rounds; larger ones run one, which already takes seconds. */
const SMALL_COUNT = 16;

/** The count whose per-namespace time the larger counts are held against. */
const FLATNESS_BASE = 16;

interface CountFigures {
  count: number;
  oursWallMs: number;
  oursBuildMs: number;
  oursPeakKiB: number;
  scriptWallMs: number;
  scriptPeakKiB: number;
  /** Operations the builder repeated after an interrupted dump, over all its runs. */
  interruptedRetries: number;
  /** Wall time of the concurrent build, or why it failed; null where it did not run. */
  concurrent: { wallMs: number } | { failure: string } | null;
}

async function teardown(count: number): Promise<void> {
  await runCommand(['sh', IP_SCRIPT, 'down', String(count)]);
  const { stdout } = await runCommand(['ip', 'netns', 'list']);
  if (stdout.trim() !== '') throw new Error(`namespaces left after the scale teardown: ${stdout.trim().split('\n').join(', ')}`);
}

async function runBuilder(count: number, concurrency: number): Promise<{ wallMs: number; report: ScaleReport; peakKiB: number }> {
  const measured = await measureCommand([process.execPath, BUILDER, String(count), String(concurrency)]);
  const report = JSON.parse(measured.stdout) as ScaleReport;
  await teardown(count);
  // GNU time reports only the largest single process, but the builder and one relay run at once.
  return { wallMs: measured.wallMs, report, peakKiB: report.selfPeakKiB + report.relayPeakKiB };
}

async function runScript(count: number): Promise<{ wallMs: number; peakKiB: number }> {
  const measured = await measureCommand(['sh', IP_SCRIPT, 'up', String(count)]);
  await teardown(count);
  return { wallMs: measured.wallMs, peakKiB: measured.maxRssKiB };
}

async function measureCount(count: number, largest: boolean): Promise<CountFigures> {
  const rounds = count <= SMALL_COUNT ? 3 : 1;
  const ours: Awaited<ReturnType<typeof runBuilder>>[] = [];
  const script: Awaited<ReturnType<typeof runScript>>[] = [];
  for (let round = 1; round <= rounds; round++) {
    progress(`scale: ${count} namespaces, round ${round} of ${rounds}`);
    if (round % 2 === 1) {
      ours.push(await runBuilder(count, 1));
      script.push(await runScript(count));
    } else {
      script.push(await runScript(count));
      ours.push(await runBuilder(count, 1));
    }
  }

  let concurrent: CountFigures['concurrent'] = null;
  let concurrentRetries = 0;
  if (largest) {
    progress(`scale: ${count} namespaces, ${CONCURRENCY} at a time`);
    try {
      const run = await runBuilder(count, CONCURRENCY);
      concurrent = { wallMs: run.wallMs };
      concurrentRetries = run.report.interruptedRetries;
    } catch (error) {
      // A failed concurrent build is a finding about the library, not a reason to lose the other figures.
      await teardown(count);
      concurrent = { failure: firstLine(error) };
    }
  }
  return {
    count,
    oursWallMs: median(ours.map((run) => run.wallMs)),
    oursBuildMs: median(ours.map((run) => run.report.buildMs)),
    oursPeakKiB: median(ours.map((run) => run.peakKiB)),
    scriptWallMs: median(script.map((run) => run.wallMs)),
    scriptPeakKiB: median(script.map((run) => run.peakKiB)),
    interruptedRetries: ours.reduce((sum, run) => sum + run.report.interruptedRetries, 0) + concurrentRetries,
    concurrent,
  };
}

/** Returns the line that names the builder's error, such as "DumpInterruptedError: list addresses ...". */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n').find((text) => /^\w*Error: /.test(text));
  return (line ?? message.split('\n')[0] ?? message).trim();
}

/** Runs benchmark 4 and returns its results. */
export async function benchScale(sizes: BenchSizes): Promise<ReportEntry[]> {
  const largestCount = Math.max(...sizes.scaleCounts);
  const figures: CountFigures[] = [];
  for (const count of sizes.scaleCounts) figures.push(await measureCount(count, count === largestCount));

  const entries: ReportEntry[] = [];
  const smallest = figures[0];
  for (const figure of figures) {
    const isTargetCount = figure.count >= 256;
    entries.push(
      compare(`build ${figure.count} namespaces: ours vs ip script`, figure.oursWallMs / figure.count, figure.scriptWallMs / figure.count, 'ms per namespace', {
        better: 'lower',
        ...(isTargetCount ? { target: '<= 0.33 (3x faster)', meets: ({ ratio }: { ratio: number }) => ratio <= 1 / 3 } : {}),
        note:
          `whole commands; ours without Node start-up: ${(figure.oursBuildMs / figure.count).toFixed(1)} ms per namespace; ` +
          `${figure.interruptedRetries} operation(s) repeated after an interrupted dump`,
      }),
    );
    const growth =
      smallest !== undefined && figure.count > smallest.count
        ? `; growth over ${smallest.count} namespace(s): ${((figure.oursPeakKiB - smallest.oursPeakKiB) / (figure.count - smallest.count)).toFixed(0)} KiB per namespace`
        : '';
    entries.push(
      compare(`peak RSS building ${figure.count} namespaces: ours vs ip script`, mebibytes(figure.oursPeakKiB), mebibytes(figure.scriptPeakKiB), 'MiB', {
        better: 'lower',
        note: `ours: the builder plus its largest relay; the script: its largest process${growth}`,
      }),
    );
    const concurrentName = `build ${figure.count} namespaces: ours ${CONCURRENCY} at a time vs ip script`;
    if (figure.concurrent !== null && 'wallMs' in figure.concurrent) {
      entries.push(compare(concurrentName, figure.concurrent.wallMs / figure.count, figure.scriptWallMs / figure.count, 'ms per namespace', { better: 'lower' }));
    } else if (figure.concurrent !== null) {
      entries.push({ name: concurrentName, skipped: `the builder failed: ${figure.concurrent.failure}` });
    }
  }

  const base = figures.find((figure) => figure.count === FLATNESS_BASE);
  for (const figure of figures) {
    if (base === undefined || figure.count <= FLATNESS_BASE) continue;
    entries.push(
      compare(`per-namespace build time, ${figure.count} vs ${FLATNESS_BASE} namespaces (ours)`, figure.oursBuildMs / figure.count, base.oursBuildMs / base.count, 'ms per namespace', {
        better: 'lower',
        ...(figure.count >= 256 ? { target: '<= 1.25 (flat)', meets: ({ ratio }: { ratio: number }) => ratio <= 1.25 } : {}),
        note: `the ip script: ${(figure.scriptWallMs / figure.count).toFixed(1)} vs ${(base.scriptWallMs / base.count).toFixed(1)} ms per namespace`,
      }),
    );
  }
  return entries;
}
