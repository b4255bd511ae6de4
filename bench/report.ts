/**
 * Benchmark results and their two output forms: a table for people and one JSON object for
 * scripts. Every result compares our figure with a peer measured in the same run.
 */

/** The direction of `ratio` that is good for us. */
export type Better = 'higher' | 'lower';

/** One comparison: our figure, the peer's, and ours divided by the peer's. */
export interface BenchResult {
  name: string;
  ours: number;
  peer: number;
  /** `ours / peer`. Whether above or below 1 is good depends on `better`. */
  ratio: number;
  unit: string;
  better: Better;
  /** The goal in words: for `ratio`, unless the text names `ours`. */
  target?: string;
  /** Whether the target is met; absent when the result has no target. */
  met?: boolean;
  note?: string;
}

/** A result without a peer figure: a benchmark that could not run, with the reason. */
export interface SkippedResult {
  name: string;
  skipped: string;
}

export type ReportEntry = BenchResult | SkippedResult;

export interface CompareOptions {
  better: Better;
  target?: string;
  /** Decides `met` from the result; only used together with `target`. */
  meets?: (result: { ours: number; peer: number; ratio: number }) => boolean;
  note?: string;
}

/** Builds a result from two measured figures in the same unit. */
export function compare(name: string, ours: number, peer: number, unit: string, options: CompareOptions): BenchResult {
  const ratio = peer === 0 ? Number.POSITIVE_INFINITY : ours / peer;
  const result: BenchResult = { name, ours, peer, ratio, unit, better: options.better };
  if (options.target !== undefined) {
    result.target = options.target;
    if (options.meets) result.met = options.meets({ ours, peer, ratio });
  }
  if (options.note !== undefined) result.note = options.note;
  return result;
}

export function isSkipped(entry: ReportEntry): entry is SkippedResult {
  return 'skipped' in entry;
}

/** Formats a figure for the table: whole numbers with separators from 1,000 up, else 3 significant digits. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** Renders the results as a fixed-width text table with notes and skips below it. */
export function formatTable(entries: readonly ReportEntry[]): string {
  const header = ['benchmark', 'ours', 'peer', 'ratio', 'unit', 'better', 'target', 'met'];
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const entry of entries) {
    if (isSkipped(entry)) {
      notes.push(`not measured: ${entry.name}: ${entry.skipped}`);
      continue;
    }
    let met = '';
    if (entry.met === true) met = 'yes';
    else if (entry.met === false) met = 'NO';
    rows.push([entry.name, formatNumber(entry.ours), formatNumber(entry.peer), formatNumber(entry.ratio), entry.unit, entry.better, entry.target ?? '', met]);
    if (entry.note !== undefined) notes.push(`${entry.name}: ${entry.note}`);
  }

  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const numeric = new Set([1, 2, 3]);
  const line = (cells: string[]): string =>
    cells.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd();

  const text = [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)];
  if (notes.length > 0) text.push('', ...notes);
  return `${text.join('\n')}\n`;
}

/** Renders the results as the single JSON object that `--json` prints. */
export function formatJson(entries: readonly ReportEntry[], machine: MachineInfo): string {
  return `${JSON.stringify({ machine, results: entries }, null, 2)}\n`;
}

/** The machine and command behind the figures. */
export interface MachineInfo {
  nproc: number;
  cpu: string;
  node: string;
  kernel: string;
  command: string;
}
