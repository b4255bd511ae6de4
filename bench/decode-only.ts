/**
 * Benchmark 2: decode only, from route dump replies captured once and held in memory. Each
 * decoder runs in a process of its own; the first pass (cold JIT) is reported apart from
 * the median of the others.
 */
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import type { DecodeReport } from './decode-worker.js';
import type { DumpReport } from './dump-report.js';
import { installRoutes, removeRoutes, ROUTES_NAMESPACE } from './install-routes.js';
import { measureCommand, median, progress } from './measure.js';
import type { BenchSizes } from './options.js';
import { compare, type ReportEntry } from './report.js';

const DUMP_WORKER = fileURLToPath(new URL('./dump-worker.js', import.meta.url));
const DECODE_WORKER = fileURLToPath(new URL('./decode-worker.js', import.meta.url));
const CAPTURE_FILE = '/run/algo-netns-bench-routes.capture';

/** Decoder processes per decoder, interleaved; each runs all passes. */
const ROUNDS = 2;

/** Runs benchmark 2 and returns its results. */
export async function benchDecodeOnly(sizes: BenchSizes): Promise<ReportEntry[]> {
  progress(`decode: capturing a dump of ${sizes.routes.toLocaleString('en-US')} routes`);
  await installRoutes(sizes.routes);
  let capture: DumpReport;
  try {
    const measured = await measureCommand([process.execPath, DUMP_WORKER, 'capture', CAPTURE_FILE], { namespace: ROUTES_NAMESPACE });
    capture = JSON.parse(measured.stdout) as DumpReport;
  } finally {
    await removeRoutes();
  }

  try {
    const reports = { ours: [] as DecodeReport[], npm: [] as DecodeReport[] };
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`decode: round ${round} of ${ROUNDS}`);
      for (const decoder of ['ours', 'npm'] as const) {
        const measured = await measureCommand([process.execPath, DECODE_WORKER, decoder, CAPTURE_FILE, String(sizes.decodePasses + 1)]);
        const report = JSON.parse(measured.stdout) as DecodeReport;
        if (report.messages !== capture.routes) throw new Error(`${decoder} decoded ${report.messages} routes, expected ${capture.routes}`);
        reports[decoder].push(report);
      }
    }
    return decodeResults(capture, reports);
  } finally {
    await rm(CAPTURE_FILE, { force: true });
  }
}

function decodeResults(capture: DumpReport, reports: { ours: DecodeReport[]; npm: DecodeReport[] }): ReportEntry[] {
  const warmMs = (list: DecodeReport[]): number => median(list.flatMap((report) => report.passMs.slice(1)));
  const coldMs = (list: DecodeReport[]): number => median(list.map((report) => report.passMs[0] ?? Number.NaN));
  const perSecond = (amount: number, ms: number): number => (amount / ms) * 1000;
  const label = `${capture.routes.toLocaleString('en-US')} captured routes`;
  const mebibytes = capture.bytes / (1024 * 1024);
  const note = `${capture.datagrams} datagrams, ${capture.bytes.toLocaleString('en-US')} bytes; ours turns addresses into text, the npm decoder leaves them as Buffers`;

  return [
    compare(`decode ${label}: ours vs npm netlink decoder`, perSecond(capture.routes, warmMs(reports.ours)), perSecond(capture.routes, warmMs(reports.npm)), 'messages/s', {
      better: 'higher',
      target: '>= 4',
      meets: ({ ratio }) => ratio >= 4,
      note,
    }),
    compare(`decode ${label}: ours vs npm netlink decoder, bytes`, perSecond(mebibytes, warmMs(reports.ours)), perSecond(mebibytes, warmMs(reports.npm)), 'MiB/s', {
      better: 'higher',
    }),
    compare(`decode ${label}, first pass (cold JIT): ours vs npm`, perSecond(capture.routes, coldMs(reports.ours)), perSecond(capture.routes, coldMs(reports.npm)), 'messages/s', {
      better: 'higher',
    }),
  ];
}
