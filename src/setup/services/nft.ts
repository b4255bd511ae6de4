/**
 * Our nftables table in the root namespace, read, replaced and deleted with the `nft` program.
 * Like `nft list table`, `nft -f FILE` and `nft delete table`.
 */
import { HelperError, runHelper } from '../../ops/spawn.js';
import { SetupError } from '../setup-error.js';
import { TABLE_COMMENT_PREFIX, TABLE_FAMILY, TABLE_NAME } from './firewall.js';
import { withPrivateFile } from './private-file.js';
import { findProgram } from './programs.js';

/** Milliseconds `nft` may take; loading a table of a few dozen rules takes a few milliseconds. */
const NFT_TIMEOUT_MS = 20_000;

/** The table as it is in the kernel. */
export interface LiveTable {
  /** The table's comment, or null when it has none. */
  comment: string | null;
}

/** Returns the path of `nft`, or throws a SetupError that explains how to install it or turn the firewall off. */
export async function requireNft(): Promise<string> {
  const nft = await findProgram('nft');
  if (nft === null) {
    throw new SetupError('nft was not found: install nftables (apt-get install nftables), or set firewall.enabled: false to run without the firewall');
  }
  return nft;
}

/** Reads our table, or returns null when there is none. Like `nft list table inet algo_netns`. */
export async function readTable(nft: string): Promise<LiveTable | null> {
  let stdout: string;
  try {
    ({ stdout } = await runHelper([nft, 'list', 'table', TABLE_FAMILY, TABLE_NAME], { timeoutMs: NFT_TIMEOUT_MS }));
  } catch (error) {
    if (error instanceof HelperError && error.exitCode === 1 && /No such file or directory/.test(error.stderr)) return null;
    throw error;
  }

  // The table comment is the first statement inside the table's braces. nft may print other
  // lines first (warnings), so the table line is searched for, not assumed at the start.
  const header = new RegExp(`^table ${TABLE_FAMILY} ${TABLE_NAME} \\{\\n\\s*(?:comment "([^"\\n]*)")?`, 'm').exec(stdout);
  if (!header) {
    throw new SetupError(`nft list table ${TABLE_FAMILY} ${TABLE_NAME} succeeded but printed no such table: ${stdout.trim().slice(0, 300)}`);
  }
  return { comment: header[1] ?? null };
}

/** Reports whether a live table is one that algo-netns wrote. */
export function isOurTable(table: LiveTable): boolean {
  return table.comment?.startsWith(TABLE_COMMENT_PREFIX) === true;
}

/** Applies a ruleset file in one transaction. Like `nft -f FILE`. */
export async function applyRuleset(nft: string, text: string): Promise<void> {
  await withPrivateFile('algo-netns.nft', text, (path) => runHelper([nft, '-f', path], { timeoutMs: NFT_TIMEOUT_MS }));
}

/** Deletes our table. Like `nft delete table inet algo_netns`. */
export async function deleteTable(nft: string): Promise<void> {
  await runHelper([nft, 'delete', 'table', TABLE_FAMILY, TABLE_NAME], { timeoutMs: NFT_TIMEOUT_MS });
}
