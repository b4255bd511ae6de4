/**
 * `up`: builds the topology, changing only what differs from the live state. Every object is
 * written to the journal (the state file) before it is made, so a run killed at any point is
 * finished by the next `up` or undone by `down`. A run that fails is rolled back.
 */
import { type Change } from '../ops/change.js';
import { ensureSysctl } from '../ops/ensure-sysctl.js';
import { openCurrentNamespace } from '../ops/handle.js';
import { ensureRule, removeRule } from '../ops/rules.js';
import type { TopologyConfig } from './config.js';
import { down } from './down.js';
import { NamespaceHandles } from './namespace-handles.js';
import { RunContext, type RunOptions } from './run-context.js';
import { preflight } from './preflight.js';
import { applyServices } from './services.js';
import { readState } from './state.js';
import { isolationRules, serviceLayouts } from './topology.js';
import { buildService, openServiceNamespace } from './up-service.js';
import { findUplink } from './uplink.js';

export interface UpResult {
  /** Changes made, or in a dry run the changes `up` would make. */
  changes: Change[];
  /** Notes for the operator that are not failures ("WireGuard skipped: ..."). */
  notices: string[];
  uplink: string | null;
  elapsedMs: number;
}

export interface UpOptions extends RunOptions {
  /** Undo this run's changes when it fails (default true). */
  rollback?: boolean;
}

/** An `up` that failed; `rolledBack` records whether its changes were undone. */
export class UpFailedError extends Error {
  override name = 'UpFailedError';

  constructor(
    readonly failure: Error,
    readonly rolledBack: boolean,
    readonly rollbackProblems: string[],
  ) {
    super(`${failure.message}; ${describeOutcome(rolledBack, rollbackProblems)}`, { cause: failure });
  }
}

function describeOutcome(rolledBack: boolean, problems: string[]): string {
  if (!rolledBack) return 'its changes were kept (rollback is off); run up again to finish or down to remove them';
  if (problems.length > 0) return `rolling back left problems: ${problems.join('; ')}`;
  return 'its changes were rolled back';
}

/** Root namespace sysctls the topology needs: forwarding for both families. */
const ROOT_SYSCTLS: [string, string][] = [
  ['net.ipv4.ip_forward', '1'],
  ['net.ipv6.conf.all.forwarding', '1'],
];

/** Builds or repairs the topology described by `config`; with `dryRun`, only lists the changes. */
export async function up(config: TopologyConfig, options: UpOptions = {}): Promise<UpResult> {
  const started = performance.now();
  const state = await readState(config.stateDirectory);
  const fresh = state.namespaces.length === 0 && state.links.length === 0 && state.adoptedLinks.length === 0;
  const root = openCurrentNamespace();
  const run = new RunContext(root, config, state, options);
  const layouts = serviceLayouts(config);
  const handles = new NamespaceHandles();
  let uplink: string | null = null;

  try {
    // Relays into namespaces that are there already start while the root namespace is read.
    handles.openAhead(layouts.map((layout) => layout.namespace).filter((name) => run.adopt || state.namespaces.includes(name)));
    uplink = await findUplink(root, config.uplink);
    await preflight(root, config, uplink);
    await ensureRootSysctls(run);

    for (const layout of layouts) {
      const ns = await openServiceNamespace(run, layout, handles);
      await buildService(run, ns, layout);
    }

    for (const rule of isolationRules(config)) {
      run.record(await ensureRule(root, rule, { dryRun: run.dryRun }), async () => void (await removeRule(root, rule)));
    }
    await applyServices({ root, config, uplink, record: (changes) => run.record(changes), notices: run.notices, dryRun: run.dryRun, namespaces: handles });
  } catch (error) {
    // The relays go first: a process inside a namespace keeps it alive after a rollback deletes it.
    await handles.closeAll();
    // The root namespace's session stays open until the rollback is over, because the
    // inverses of a repair run (removeRoute, removeLink, removeRule) send requests on it.
    const failure = await rollBackFailedRun(run, config, fresh, options, error);
    await root.close();
    throw failure;
  }
  await handles.closeAll();
  await root.close();

  return { changes: run.changes, notices: run.notices, uplink, elapsedMs: performance.now() - started };
}

async function ensureRootSysctls(run: RunContext): Promise<void> {
  for (const [key, value] of ROOT_SYSCTLS) {
    const previous = await run.root.readSysctl(key);
    if (previous === value) continue;

    if (!(key in run.state.rootSysctls)) {
      run.state.rootSysctls[key] = previous;
      await run.journal();
    }
    const { changes } = await ensureSysctl(run.root, key, value, { dryRun: run.dryRun });
    run.record(changes, async () => void (await ensureSysctl(run.root, key, previous)));
  }
}

// Undoes a failed run's changes unless rollback is off, and returns the error the run ends with.
async function rollBackFailedRun(run: RunContext, config: TopologyConfig, fresh: boolean, options: UpOptions, error: unknown): Promise<unknown> {
  if (run.dryRun || run.changes.length === 0) return error;
  if (options.rollback === false) return new UpFailedError(error as Error, false, []);

  // A first run is undone by `down`, which follows the journal; a repair run undoes only
  // the changes it made itself.
  const problems = fresh ? await rollbackWithDown(config) : await run.rollback();
  return new UpFailedError(error as Error, true, problems);
}

async function rollbackWithDown(config: TopologyConfig): Promise<string[]> {
  try {
    await down(config);
    return [];
  } catch (error) {
    return [`down failed: ${(error as Error).message}`];
  }
}
