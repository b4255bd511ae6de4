/**
 * Summarises a V8 CPU profile (a .cpuprofile file from `node --cpu-prof`): self time per
 * function, summed over every call site, largest first.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds between consecutive samples. */
  timeDeltas: number[];
}

/** One function's share of the samples. */
export interface ProfileLine {
  /** "decodeRoute src/netlink/route.js:15", or a V8 pseudo-frame such as "(garbage collector)". */
  location: string;
  selfMs: number;
  percent: number;
}

/** Reads a profile and returns its `limit` functions with the most self time. */
export async function summariseProfile(path: string, limit: number): Promise<ProfileLine[]> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));

  const selfByLocation = new Map<string, number>();
  let totalMicroseconds = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    totalMicroseconds += delta;
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined) return;
    const file = frame.url === '' ? '' : ` ${frame.url.split('/').slice(-3).join('/')}:${frame.lineNumber + 1}`;
    const location = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${file}`;
    selfByLocation.set(location, (selfByLocation.get(location) ?? 0) + delta);
  });

  return [...selfByLocation]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([location, microseconds]) => ({ location, selfMs: microseconds / 1000, percent: (100 * microseconds) / totalMicroseconds }));
}
