/**
 * The state of one `up` run across its steps: the journal, the changes made so far, the
 * inverse of each for rollback, and whether this is a dry run.
 */
import type { Change } from '../ops/change.js';
import type { NetnsHandle } from '../ops/handle.js';
import { settle, unwrap } from '../ops/settle.js';
import type { TopologyConfig } from './config.js';
import { writeState, type TopologyState } from './state.js';

export interface RunOptions {
  /** Report the changes without making them. */
  dryRun?: boolean;
  /** Take over pre-existing objects whose names collide with ours instead of failing. */
  adopt?: boolean;
  /** Called with each change as it is made, for progress output. */
  onChange?: (change: Change) => void;
}

export class RunContext {
  readonly changes: Change[] = [];
  readonly notices: string[] = [];
  /** Inverse actions of the changes made, run in reverse order when the run fails. */
  private readonly undo: { description: string; action: () => Promise<void> }[] = [];

  constructor(
    readonly root: NetnsHandle,
    readonly config: TopologyConfig,
    readonly state: TopologyState,
    readonly options: RunOptions,
  ) {}

  get dryRun(): boolean {
    return this.options.dryRun === true;
  }

  get adopt(): boolean {
    return this.options.adopt === true;
  }

  /** Records changes made (or, in a dry run, planned), with the inverse that undoes them. */
  record(changes: Change[], inverse?: () => Promise<void>): void {
    for (const change of changes) {
      this.changes.push(change);
      this.options.onChange?.(change);
      testHookAfterChange(this.changes.length);
    }
    if (changes.length > 0 && inverse && !this.dryRun) this.undo.push({ description: changes.join('; '), action: inverse });
  }

  /**
   * Records the changes of operations that were started together, in the order given, as if
   * they had run one after another: up to the first one that failed, whose error it then
   * throws. Operations that succeed after a failed one are made but not recorded, so only
   * operations without an inverse and without journal writes belong here.
   */
  async recordInOrder(operations: Promise<Change[]>[]): Promise<void> {
    const outcomes = await Promise.all(operations.map((operation) => settle(operation)));
    for (const outcome of outcomes) this.record(unwrap(outcome));
  }

  /** Writes the journal, before the change it describes is made. Does nothing in a dry run. */
  async journal(): Promise<void> {
    if (!this.dryRun) await writeState(this.config.stateDirectory, this.state);
  }

  /** Runs the inverse of every change made, newest first; returns what could not be undone. */
  async rollback(): Promise<string[]> {
    const failures: string[] = [];
    for (const step of this.undo.reverse()) {
      try {
        await step.action();
      } catch (error) {
        failures.push(`undo "${step.description}" failed: ${(error as Error).message}`);
      }
    }
    return failures;
  }

  /** Number of changes that have an inverse. */
  get undoable(): number {
    return this.undo.length;
  }
}

// Test hook: ALGO_NETNS_TEST_KILL_AFTER=N makes the process kill itself with SIGKILL right
// after its Nth change, so tests can interrupt `up` at every step deterministically.
function testHookAfterChange(count: number): void {
  if (process.env.ALGO_NETNS_TEST_KILL_AFTER === String(count)) process.kill(process.pid, 'SIGKILL');
}
