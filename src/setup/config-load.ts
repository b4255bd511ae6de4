/**
 * Loading the topology configuration: read a YAML or JSON file, merge it over the embedded
 * defaults, validate the result, and print the effective configuration.
 */

import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname } from 'node:path';

import { defaultConfig, type TopologyConfig } from './config.js';
import { validateConfig } from './config-validate.js';
import { ConfigError, isPlainMapping } from './errors.js';

// The yaml package is loaded on first use (its CommonJS build, so that loading stays
// synchronous): about 30 ms of every start, which commands without a YAML file skip.
const requireModule = createRequire(import.meta.url);
let yamlModule: typeof import('yaml') | undefined;

function yaml(): typeof import('yaml') {
  yamlModule ??= requireModule('yaml') as typeof import('yaml');
  return yamlModule;
}

/** The `source` of a configuration that came from no file. */
export const DEFAULT_SOURCE = 'built-in defaults';

export interface LoadedConfig {
  config: TopologyConfig;
  /** The file path as given, or `DEFAULT_SOURCE`. */
  source: string;
}

export type ConfigFormat = 'yaml' | 'json';

/**
 * Loads the configuration: the defaults when `path` is undefined, otherwise the file merged over
 * them. A `.json` file is read as JSON and any other file as YAML 1.2. An empty YAML file, or one
 * with only comments, keeps every default. Throws a `ConfigError` naming the file and, for
 * syntax errors, the line.
 */
export async function loadConfig(path?: string): Promise<LoadedConfig> {
  if (path === undefined) {
    return { config: validateConfig(defaultConfig()), source: DEFAULT_SOURCE };
  }

  const text = await readConfigFile(path);
  const overrides = extname(path).toLowerCase() === '.json' ? parseJson(text, path) : parseYaml(text, path);
  checkNesting(overrides, path);
  const merged = mergeConfig(defaultConfig(), overrides ?? {});

  try {
    return { config: validateConfig(merged), source: path };
  } catch (error) {
    if (error instanceof ConfigError) {
      throw ConfigError.fromProblems(error.problems, path);
    }

    throw error;
  }
}

/**
 * Merges `overrides` over `base` and returns a new value. Mappings merge key by key, recursively.
 * Anything else in `overrides` (a list, a scalar, null) replaces the base value whole.
 */
export function mergeConfig(base: unknown, overrides: unknown): unknown {
  if (!isPlainMapping(base) || !isPlainMapping(overrides)) {
    return copyValue(overrides);
  }

  const merged = copyValue(base) as Record<string, unknown>;

  for (const [key, value] of Object.entries(overrides)) {
    const next = Object.hasOwn(merged, key) ? mergeConfig(merged[key], value) : copyValue(value);
    defineEntry(merged, key, next);
  }

  return merged;
}

/**
 * Formats a configuration for printing. YAML output quotes strings that YAML 1.1 readers
 * (PyYAML, and so Ansible) would take for booleans or numbers, such as `yes` or `010`.
 */
export function formatConfig(config: TopologyConfig, format: ConfigFormat): string {
  if (format === 'json') {
    return `${JSON.stringify(config, null, 2)}\n`;
  }

  return yaml().stringify(config, { version: '1.1' });
}

/** Largest configuration file read. A real one is a few hundred bytes. */
const MAX_CONFIG_BYTES = 1024 * 1024;

async function readConfigFile(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (info.isFile() && info.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(`configuration file ${path} is ${info.size} bytes; at most ${MAX_CONFIG_BYTES} bytes are read, so check that it is the right file`, { file: path });
    }
    const text = await readFile(path, 'utf8');
    // A NUL or an invalid UTF-8 sequence (decoded as U+FFFD) means this is not a text file.
    if (text.includes('\0') || text.includes('\uFFFD')) {
      throw new ConfigError(`configuration file ${path} is not UTF-8 text; expected YAML or JSON`, { file: path });
    }
    return text;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? `configuration file not found: ${path}`
        : code === 'EACCES'
          ? `configuration file ${path} cannot be read: permission denied`
          : code === 'EISDIR'
            ? `configuration file ${path} is a directory, not a file`
            : `failed to read configuration file ${path}: ${(error as Error).message}`;
    throw new ConfigError(message, { file: path, cause: error });
  }
}

function parseYaml(text: string, path: string): unknown {
  const documents = yaml().parseAllDocuments(text, {
    // YAML 1.2 core schema: `yes`, `on` and `010` stay strings or decimals, as in JSON.
    version: '1.2',
    // Tags from YAML 1.1 (!!binary, !!set, !!timestamp) become warnings, which are rejected below.
    resolveKnownTags: false,
    strict: true,
    uniqueKeys: true,
    prettyErrors: true,
    logLevel: 'silent',
  });

  if (documents.length === 0) {
    return null;
  }

  const second = documents[1];

  if (second !== undefined) {
    const { line, column } = lineAndColumn(text, second.range[0]);
    throw syntaxError(path, 'YAML', line, column, 'the file contains more than one YAML document, but only one is allowed');
  }

  const document = documents[0];
  const fault = document?.errors[0] ?? document?.warnings[0];

  if (fault !== undefined) {
    const position = fault.linePos?.[0];
    // The yaml package appends "at line L, column C:" before its excerpt, which would repeat the heading.
    const detail = fault.message.replace(/ at line \d+, column \d+:\n/, '\n');
    throw syntaxError(path, 'YAML', position?.line, position?.col, detail, fault);
  }

  try {
    return document?.toJS({ maxAliasCount: 100 }) ?? null;
  } catch (error) {
    // toJS throws for aliases that are undefined or expand too much, and gives no position for them.
    throw syntaxError(path, 'YAML', undefined, undefined, (error as Error).message, error);
  }
}

function parseJson(text: string, path: string): unknown {
  // Editors on some systems start a UTF-8 file with a byte order mark, which JSON.parse rejects.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;

  let value: unknown;
  try {
    value = JSON.parse(body) as unknown;
  } catch (error) {
    // JSON.parse in Node 20 names the position only for some errors, so locate it ourselves.
    const offset = jsonErrorOffset(body);
    const position = offset === undefined ? undefined : lineAndColumn(body, offset);
    throw syntaxError(path, 'JSON', position?.line, position?.column, (error as Error).message, error);
  }

  const duplicate = firstDuplicateJsonKey(body);
  if (duplicate !== undefined) {
    const { line, column } = lineAndColumn(body, duplicate.offset);
    throw syntaxError(path, 'JSON', line, column, `duplicate key ${JSON.stringify(duplicate.key)} in one object; each key may appear once`);
  }
  return value;
}

/**
 * Finds the first key that appears twice in one object of `text`, which must be valid JSON.
 * JSON.parse silently keeps the last value of a repeated key, and the YAML reader rejects
 * such files, so JSON files are held to the same rule. The scan keeps its own stack of objects,
 * so deep nesting cannot exhaust the call stack.
 */
export function firstDuplicateJsonKey(text: string): { key: string; offset: number } | undefined {
  // One entry per open object or array: the keys seen so far, or null for an array.
  const open: (Set<string> | null)[] = [];
  // Whether the next string in the innermost object is a key rather than a value.
  let expectKey = false;
  const token = /"(?:[^"\\]|\\.)*"|[{}[\],:]/g;

  for (let match = token.exec(text); match !== null; match = token.exec(text)) {
    const lexeme = match[0];
    const keys = open.at(-1);

    if (lexeme === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (lexeme === '[') {
      open.push(null);
    } else if (lexeme === '}' || lexeme === ']') {
      open.pop();
    } else if (lexeme === ',') {
      expectKey = keys instanceof Set;
    } else if (lexeme === ':') {
      expectKey = false;
    } else if (expectKey && keys instanceof Set) {
      const key = JSON.parse(lexeme) as string;
      if (keys.has(key)) return { key, offset: match.index };
      keys.add(key);
      expectKey = false;
    }
  }
  return undefined;
}

/**
 * Maximum nesting depth of mappings and lists. A valid configuration nests at most three levels,
 * and merging and validation recurse once per level, so a much deeper file would exhaust the stack.
 */
const MAX_NESTING_DEPTH = 64;

/**
 * Rejects a parsed file whose mappings and lists nest too deep or contain themselves, as a YAML
 * alias inside its own anchor (`a: &a [*a]`) does. The walk stops at the limit, so it cannot
 * exhaust the call stack itself.
 */
function checkNesting(value: unknown, path: string): void {
  const ancestors = new Set<unknown>();

  const visit = (node: unknown, depth: number): void => {
    if (!Array.isArray(node) && !isPlainMapping(node)) return;

    if (ancestors.has(node)) {
      throw new ConfigError(`invalid configuration in ${path}: a YAML alias refers to a mapping or list that contains it, so the value would be endless; remove the alias or point it at another anchor`, { file: path });
    }
    if (depth > MAX_NESTING_DEPTH) {
      throw new ConfigError(`invalid configuration in ${path}: mappings and lists nest more than ${MAX_NESTING_DEPTH} levels deep, but a valid configuration nests 3 at most`, { file: path });
    }

    ancestors.add(node);
    for (const child of Array.isArray(node) ? node : Object.values(node)) visit(child, depth + 1);
    ancestors.delete(node);
  };

  visit(value, 1);
}

function syntaxError(
  path: string,
  language: string,
  line: number | undefined,
  column: number | undefined,
  detail: string,
  cause?: unknown,
): ConfigError {
  const where = line === undefined ? path : `${path}, line ${line}, column ${column ?? 1}`;
  const message = `invalid ${language} in ${where}: ${detail}`;
  return new ConfigError(message, { file: path, line, column, cause });
}

/** Converts a 0-based character offset into a 1-based line and column. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { line, column };
}

/** Deep-copies mappings and lists so that the merged value shares nothing with its inputs. */
function copyValue(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(copyValue);
  }

  if (!isPlainMapping(value)) {
    return value;
  }

  const copy: Record<string, unknown> = {};

  for (const [key, entry] of Object.entries(value)) {
    defineEntry(copy, key, copyValue(entry));
  }

  return copy;
}

/**
 * Sets a key as an own property. Plain assignment of a `__proto__` key read from a file would
 * replace the object's prototype instead, and the key would escape validation.
 */
function defineEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Thrown inside `jsonErrorOffset` to unwind to the offset of the first syntax error. */
class JsonSyntaxOffset {
  constructor(readonly offset: number) {}
}

/**
 * Returns the 0-based offset of the first JSON syntax error in `text` (RFC 8259 grammar), or
 * undefined when the scan finds none or the nesting is too deep for the call stack.
 */
function jsonErrorOffset(text: string): number | undefined {
  let position = 0;

  const fail = (): never => {
    throw new JsonSyntaxOffset(position);
  };

  const skipWhitespace = (): void => {
    while (position < text.length && ' \t\n\r'.includes(text.charAt(position))) {
      position++;
    }
  };

  const expect = (character: string): void => {
    if (text.charAt(position) !== character) {
      fail();
    }

    position++;
  };

  const scanString = (): void => {
    expect('"');

    for (;;) {
      const character = text.charAt(position);

      if (character === '"') {
        position++;
        return;
      }

      if (character === '' || character.charCodeAt(0) < 0x20) {
        fail();
      }

      if (character !== '\\') {
        position++;
        continue;
      }

      const escaped = text.charAt(position + 1);

      if (escaped === 'u' && /^[0-9A-Fa-f]{4}$/.test(text.slice(position + 2, position + 6))) {
        position += 6;
      } else if (escaped !== '' && '"\\/bfnrt'.includes(escaped)) {
        position += 2;
      } else {
        fail();
      }
    }
  };

  const scanNumber = (): void => {
    const pattern = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    pattern.lastIndex = position;

    if (!pattern.test(text)) {
      fail();
    }

    position = pattern.lastIndex;
  };

  const scanSequence = (close: string, scanItem: () => void): void => {
    position++;
    skipWhitespace();

    if (text.charAt(position) === close) {
      position++;
      return;
    }

    for (;;) {
      scanItem();
      skipWhitespace();

      if (text.charAt(position) === close) {
        position++;
        return;
      }

      expect(',');
      skipWhitespace();
    }
  };

  const scanValue = (): void => {
    skipWhitespace();
    const character = text.charAt(position);

    if (character === '{') {
      scanSequence('}', () => {
        scanString();
        skipWhitespace();
        expect(':');
        scanValue();
      });
    } else if (character === '[') {
      scanSequence(']', scanValue);
    } else if (character === '"') {
      scanString();
    } else if (character === '-' || (character >= '0' && character <= '9')) {
      scanNumber();
    } else {
      const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, position));

      if (literal === undefined) {
        fail();
      }

      position += literal?.length ?? 0;
    }
  };

  try {
    scanValue();
    skipWhitespace();

    if (position < text.length) {
      fail();
    }

    return undefined;
  } catch (error) {
    if (error instanceof JsonSyntaxOffset) {
      return error.offset;
    }

    if (error instanceof RangeError) {
      return undefined;
    }

    throw error;
  }
}
