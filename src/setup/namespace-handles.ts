/**
 * The handles one `up` run holds on the service namespaces. Opening a handle starts a relay
 * process, which is the slowest step of a run that finds its namespaces already there, so:
 * - namespaces that exist when the run starts are opened ahead, all at once, while the run
 *   reads the root namespace;
 * - a handle stays open until the run ends, so that later steps (the WireGuard settings)
 *   reuse it instead of starting another relay;
 * - all of them are closed together.
 * Opening a handle changes nothing on the host, so opening ahead leaves the journal alone.
 */
import { stat } from 'node:fs/promises';
import { openNamedNamespace, type NetnsHandle } from '../ops/handle.js';
import { namespaceExists, namespacePath } from '../ops/netns.js';
import { settle, type Settled } from '../ops/settle.js';

export class NamespaceHandles {
  private readonly ahead = new Map<string, Promise<Settled<NetnsHandle | null>>>();
  private readonly inUse = new Map<string, NetnsHandle>();

  /** Starts opening each of `names` that exists now. Failures wait for `open`, which tries again. */
  openAhead(names: readonly string[]): void {
    for (const name of names) {
      if (this.ahead.has(name) || this.inUse.has(name)) continue;
      this.ahead.set(name, settle(namespaceExists(name).then((exists) => (exists ? openNamedNamespace(name) : null))));
    }
  }

  /**
   * Returns a handle on the existing namespace `name`, like openNamedNamespace. It is the one
   * opened ahead when that one is still inside the namespace now named `name`, else a new one.
   */
  async open(name: string): Promise<NetnsHandle> {
    const early = await this.takeAhead(name);
    const handle = early !== null && (await insideNamespace(early, name)) ? early : await this.replace(early, name);
    this.inUse.set(name, handle);
    return handle;
  }

  /** Keeps a handle opened elsewhere (a stand-in for a dry run), to be closed with the others. */
  hold(name: string, handle: NetnsHandle): void {
    this.inUse.set(name, handle);
  }

  /** Returns the handle held on `name`, if any. */
  get(name: string): NetnsHandle | undefined {
    return this.inUse.get(name);
  }

  /** Drops a handle opened ahead for `name`, for a namespace that is about to be created anew. */
  async discardAhead(name: string): Promise<void> {
    await (await this.takeAhead(name))?.close();
  }

  /** Closes every handle, those opened ahead and never used included. */
  async closeAll(): Promise<void> {
    const early = await Promise.all([...this.ahead.keys()].map((name) => this.takeAhead(name)));
    const handles = [...this.inUse.values(), ...early.filter((handle): handle is NetnsHandle => handle !== null)];
    this.inUse.clear();
    await Promise.all(handles.map((handle) => handle.close()));
  }

  private async takeAhead(name: string): Promise<NetnsHandle | null> {
    const pending = this.ahead.get(name);
    if (pending === undefined) return null;
    this.ahead.delete(name);
    const outcome = await pending;
    return outcome.ok ? outcome.value : null;
  }

  private async replace(early: NetnsHandle | null, name: string): Promise<NetnsHandle> {
    await early?.close();
    return openNamedNamespace(name);
  }
}

// A namespace deleted and made again by someone else after the handle was opened has the
// name but not the handle's relay. Both paths lead to the same nsfs inode only when they are
// the same namespace.
async function insideNamespace(handle: NetnsHandle, name: string): Promise<boolean> {
  try {
    const [own, named] = await Promise.all([stat(`/proc/${handle.pid}/ns/net`), stat(namespacePath(name))]);
    return own.dev === named.dev && own.ino === named.ino;
  } catch {
    return false;
  }
}
