/**
 * The record of the files and folders `algo-netns systemd install` created, so that uninstall
 * removes exactly those and leaves folders that existed before as they were.
 */
import { lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { INSTALL_RECORD } from './names.js';
import { writeAtomically } from '../write-atomically.js';

export interface InstallRecord {
  version: 1;
  /** Unit files install wrote, as absolute paths on the target host (without --root). */
  files: string[];
  /** Folders install created, as absolute paths on the target host, parents before children. */
  directories: string[];
}

export function emptyInstallRecord(): InstallRecord {
  return { version: 1, files: [], directories: [] };
}

/** Returns where the record lives under `root`. */
export function installRecordPath(root: string): string {
  return join(root, INSTALL_RECORD);
}

/** Reads the record under `root`. A missing file means that nothing is installed. */
export async function readInstallRecord(root: string): Promise<InstallRecord> {
  const path = installRecordPath(root);
  let text: string;

  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return emptyInstallRecord();
    }

    throw error;
  }

  const parsed = JSON.parse(text) as Partial<InstallRecord>;
  if (parsed.version !== 1 || !isStringList(parsed.files) || !isStringList(parsed.directories)) {
    throw new Error(`install record ${path} is not a version 1 record of files and directories; remove the files it lists by hand, then remove it`);
  }

  return { version: 1, files: parsed.files, directories: parsed.directories };
}

/** Writes the record atomically (write, then rename). Its folder must exist. */
export async function writeInstallRecord(root: string, record: InstallRecord): Promise<void> {
  const path = installRecordPath(root);
  await writeAtomically(path, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
}

/** Removes the record file. */
export async function removeInstallRecord(root: string): Promise<void> {
  await rm(installRecordPath(root), { force: true });
}

/** Creates the record's folder, and returns the folders that did not exist before. */
export async function createInstallRecordFolder(root: string): Promise<string[]> {
  const target = dirname(INSTALL_RECORD);
  const missing = await missingFolders(root, target);
  await mkdir(join(root, target), { recursive: true, mode: 0o755 });
  return missing;
}

/**
 * Lists the folders from `folder` up to `root` that do not exist, parents first, as absolute
 * paths on the target host.
 */
export async function missingFolders(root: string, folder: string): Promise<string[]> {
  const missing: string[] = [];

  for (let current = folder; current !== '/' && current !== '.'; current = dirname(current)) {
    if (await exists(join(root, current))) {
      break;
    }

    missing.unshift(current);
  }

  return missing;
}

/** Returns whether anything (a file, folder or link) exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return false;
    }

    throw error;
  }
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
