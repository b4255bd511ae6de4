/**
 * Opt-in tracing of netlink traffic. Silent unless a logger is passed to the session or
 * ALGO_NETNS_DEBUG is set (1: one line per message, 2: also a hex dump).
 */

/** Receives one trace line; `level` 2 lines carry hex dumps. */
export type NetlinkLogger = (line: string, level: 1 | 2) => void;

/** Returns the logger selected by ALGO_NETNS_DEBUG, writing to stderr, or null. */
export function loggerFromEnvironment(environment: NodeJS.ProcessEnv = process.env): NetlinkLogger | null {
  const level = Number(environment.ALGO_NETNS_DEBUG ?? '0');
  if (!(level >= 1)) return null;
  return stderrLogger(level >= 2 ? 2 : 1);
}

/** Returns a logger that writes lines up to `maxLevel` to stderr with a timestamp. */
export function stderrLogger(maxLevel: 1 | 2): NetlinkLogger {
  return (line, level) => {
    if (level <= maxLevel) process.stderr.write(`${new Date().toISOString()} netlink ${line}\n`);
  };
}

/** Formats bytes as rows of 16 hex bytes, for level-2 traces. */
export function hexDump(bytes: Buffer): string {
  const rows: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16).toString('hex').replace(/(..)/g, '$1 ').trim();
    rows.push(`  ${offset.toString(16).padStart(4, '0')}  ${row}`);
  }
  return rows.join('\n');
}
