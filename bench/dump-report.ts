/** The output line of a dump worker (dump-worker.ts), shared with the suite that starts it. */

export const DUMP_MODES = ['ours', 'ours-stream', 'ours-relay', 'npm', 'bare', 'bare-32k', 'capture'] as const;
export type DumpMode = (typeof DUMP_MODES)[number];

/** One worker's figures, printed as one JSON line. */
export interface DumpReport {
  mode: DumpMode;
  /** Route messages received (decoded, except in the bare and capture modes). */
  routes: number;
  messages: number;
  datagrams: number;
  bytes: number;
  /** From sending the request to the end of the dump, in milliseconds. */
  dumpMs: number;
  /** Peak RSS of the worker, from /proc/self/status VmHWM. */
  selfPeakKiB: number;
  /** Peak RSS of the relay process, for `ours-relay`. */
  relayPeakKiB?: number;
}
