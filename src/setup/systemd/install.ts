/**
 * Writing the generated unit files, and removing exactly what was written. Every path is
 * prefixed with a root folder ("/" on a live host), so that tests and packagers can install
 * into a folder of their own.
 */
import { mkdir, readFile, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { Change } from '../../ops/change.js';
import { SetupError } from '../setup-error.js';
import {
  createInstallRecordFolder,
  missingFolders,
  readInstallRecord,
  removeInstallRecord,
  writeInstallRecord,
  type InstallRecord,
} from './install-record.js';
import { GENERATED_MARKER, INSTALL_RECORD } from './names.js';
import type { UnitFile } from './units.js';
import { writeAtomically } from '../write-atomically.js';

export interface InstallOptions {
  /** Folder that prefixes every path; "/" for the live host. */
  root: string;
  /** Called with each change as it is made, for progress output. */
  onChange?: (change: Change) => void;
}

export interface InstallResult {
  changes: Change[];
  /** Notes for the operator that are not failures. */
  notices: string[];
}

/**
 * Writes `files` under `root`, creating the folders they need, and removes files that an earlier
 * install wrote but `files` no longer contains (a service that was disabled since). A file whose
 * content is already right is left alone. Throws a SetupError, before changing anything, for an
 * existing file that the install record does not list and that does not start with the marker.
 */
export async function installUnitFiles(files: readonly UnitFile[], options: InstallOptions): Promise<InstallResult> {
  const { root } = options;
  const result: InstallResult = { changes: [], notices: [] };
  const note = changeCollector(result, options);

  const installed = await readInstallRecord(root);
  const current = await Promise.all(files.map(async (file) => ({ file, existing: await readIfExists(join(root, file.path)) })));

  for (const { file, existing } of current) {
    if (existing !== null && !installed.files.includes(file.path) && !existing.startsWith(GENERATED_MARKER)) {
      throw new SetupError(
        `${join(root, file.path)} exists and was not written by algo-netns systemd install; move it out of the way, then run install again`,
      );
    }
  }

  const recordFolders = await createInstallRecordFolder(root);
  for (const folder of recordFolders) note(`create folder ${join(root, folder)}`);

  const unitFolders: string[] = [];
  for (const { file } of current) {
    addAll(unitFolders, await missingFolders(root, dirname(file.path)));
  }

  // The record lists every file and folder before it is made, so that uninstall finds them
  // even if this run stops half way.
  const next: InstallRecord = { version: 1, files: [...installed.files], directories: [...installed.directories] };
  addAll(next.directories, [...recordFolders, ...unitFolders]);
  addAll(next.files, files.map((file) => file.path));
  await writeInstallRecord(root, next);

  for (const folder of unitFolders) {
    await mkdir(join(root, folder), { mode: 0o755 });
    note(`create folder ${join(root, folder)}`);
  }

  for (const { file, existing } of current) {
    if (existing === file.text) continue;

    // Written whole and renamed, so systemd never reads half a unit.
    const path = join(root, file.path);
    await writeAtomically(path, file.text, { mode: 0o644, temporary: `${path}.algo-netns-tmp` });
    note(`${existing === null ? 'write' : 'update'} ${join(root, file.path)}`);
  }

  // Files of an earlier install that are no longer generated (a service disabled since), and
  // their folders, except those that still hold a current file or the record.
  const wanted = new Set(files.map((file) => file.path));
  await removeFiles(root, next.files.filter((path) => !wanted.has(path)), next, note);
  const stillNeeded = (folder: string): boolean => isInside(INSTALL_RECORD, folder) || files.some((file) => isInside(file.path, folder));
  await removeFolders(root, next, (folder) => !stillNeeded(folder), note, result.notices);
  await writeInstallRecord(root, next);

  return result;
}

/**
 * Removes the files and folders the install record lists, then the record itself. A folder that
 * contains other files stays, with a notice.
 */
export async function uninstallUnitFiles(options: InstallOptions): Promise<InstallResult> {
  const { root } = options;
  const result: InstallResult = { changes: [], notices: [] };
  const note = changeCollector(result, options);

  const installed = await readInstallRecord(root);
  await removeFiles(root, [...installed.files], installed, note);
  if (installed.directories.length > 0) {
    await writeInstallRecord(root, installed);
  }

  // The record must go before its own folder can be removed. A folder that stays from here on
  // is named in a notice, because no record remembers it.
  await removeInstallRecord(root);
  await removeFolders(root, installed, () => true, note, result.notices);

  return result;
}

function changeCollector(result: InstallResult, options: InstallOptions): (change: Change) => void {
  return (change) => {
    result.changes.push(change);
    options.onChange?.(change);
  };
}

/** Removes `paths` and drops them from the record. A file that is already gone is no change. */
async function removeFiles(root: string, paths: readonly string[], installed: InstallRecord, note: (change: Change) => void): Promise<void> {
  for (const path of paths) {
    const target = join(root, path);
    const existed = (await readIfExists(target)) !== null;
    await rm(target, { force: true });
    installed.files = installed.files.filter((file) => file !== path);
    if (existed) note(`remove ${target}`);
  }
}

/**
 * Removes the recorded folders that `removable` accepts, children before parents. A folder that
 * is not empty stays and the record keeps it.
 */
async function removeFolders(
  root: string,
  installed: InstallRecord,
  removable: (folder: string) => boolean,
  note: (change: Change) => void,
  notices: string[],
): Promise<void> {
  const deepestFirst = [...installed.directories].filter(removable).sort((a, b) => depth(b) - depth(a));

  for (const folder of deepestFirst) {
    const target = join(root, folder);
    try {
      await rmdir(target);
      note(`remove folder ${target}`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        notices.push(`kept folder ${target}, because it contains files that algo-netns did not write`);
        continue;
      }

      if (code !== 'ENOENT') throw error;
    }

    installed.directories = installed.directories.filter((directory) => directory !== folder);
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function addAll(list: string[], items: readonly string[]): void {
  for (const item of items) {
    if (!list.includes(item)) list.push(item);
  }
}

function isInside(path: string, folder: string): boolean {
  return path.startsWith(`${folder}/`);
}

function depth(path: string): number {
  return path.split('/').length;
}
