/**
 * The health report of `check` in the Prometheus text format, written as a file for
 * node_exporter's textfile collector.
 */
import type { HealthReport } from './check.js';
import { writeAtomically } from './write-atomically.js';

/**
 * Formats one run of `check` in the Prometheus text format. `report` is undefined when the
 * check itself failed to run. The text then sets `algo_netns_healthy` to 0 and
 * `algo_netns_check_failed` to 1, so that an earlier healthy file does not stay in place.
 * `timestampSeconds` (Unix time) lets an alert notice a file that no run rewrites any more.
 */
export function prometheusText(report: HealthReport | undefined, timestampSeconds: number): string {
  const lines = [
    '# HELP algo_netns_check_ok Whether one health check of algo-netns passed (1) or failed (0).',
    '# TYPE algo_netns_check_ok gauge',
  ];
  for (const result of report?.results ?? []) {
    lines.push(`algo_netns_check_ok{check="${label(result.check)}",target="${label(result.target)}"} ${result.ok ? 1 : 0}`);
  }
  lines.push(
    '# HELP algo_netns_healthy Whether every algo-netns health check passed.',
    '# TYPE algo_netns_healthy gauge',
    `algo_netns_healthy ${report?.ok === true ? 1 : 0}`,
    '# HELP algo_netns_check_failed Whether the algo-netns check itself failed to run (1), so that no check result is known.',
    '# TYPE algo_netns_check_failed gauge',
    `algo_netns_check_failed ${report === undefined ? 1 : 0}`,
    '# HELP algo_netns_check_timestamp_seconds Unix time of the latest algo-netns check run.',
    '# TYPE algo_netns_check_timestamp_seconds gauge',
    `algo_netns_check_timestamp_seconds ${Math.floor(timestampSeconds)}`,
    '# HELP algo_netns_wireguard_handshake_age_seconds Seconds since the latest handshake of each WireGuard peer.',
    '# TYPE algo_netns_wireguard_handshake_age_seconds gauge',
  );
  for (const handshake of report?.handshakes ?? []) {
    if (handshake.secondsAgo !== null) lines.push(`algo_netns_wireguard_handshake_age_seconds{peer="${label(handshake.peer)}"} ${handshake.secondsAgo}`);
  }
  return `${lines.join('\n')}\n`;
}

// Label values escape backslash, double quote and newline, as the text format requires.
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Writes `text` to `path` atomically: a collector may read the file at any moment, so it is
 * written whole under a temporary name in the same folder, then renamed over the old one.
 */
export async function writePrometheusFile(path: string, text: string): Promise<void> {
  // The pid keeps two overlapping runs from writing the same temporary file.
  await writeAtomically(path, text, { temporary: `${path}.${process.pid}.tmp` });
}
