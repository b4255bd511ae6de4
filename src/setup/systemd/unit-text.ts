/**
 * Small helpers that write unit file text: quoting of command lines, and sections made of
 * comments and settings.
 */

/** Words that systemd reads back unchanged without quotes, once "%" and "$" are doubled. */
const PLAIN_WORD = /^[A-Za-z0-9_@%$+=:,./-]+$/;

/**
 * Quotes one word of an Exec= command line so that systemd passes it to the program unchanged.
 * Doubles "%" (a specifier prefix) and "$" (variable substitution), then wraps anything but a
 * plain word in double quotes with "\" and '"' escaped, as systemd.service(5) describes.
 */
export function quoteExecWord(word: string): string {
  if (word === '' || /[\x00-\x1f\x7f]/.test(word)) {
    throw new TypeError(`Expected a command-line word without control characters, got ${JSON.stringify(word)}`);
  }

  const escaped = word.replaceAll('%', '%%').replaceAll('$', '$$$$');
  if (PLAIN_WORD.test(escaped)) {
    return escaped;
  }

  return `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** Joins words into one Exec= command line. */
export function execLine(words: readonly string[]): string {
  return words.map(quoteExecWord).join(' ');
}

/**
 * One line of a unit section, either a setting as [key, value] or a comment as a string (written
 * after "# "). An empty string is a blank line.
 */
export type UnitLine = readonly [string, string] | string;

/** Writes one section, `[name]` and its lines. */
export function section(name: string, lines: readonly UnitLine[]): string {
  const body = lines.map((line) => {
    if (typeof line !== 'string') {
      return `${line[0]}=${line[1]}`;
    }

    return line === '' ? '' : `# ${line}`;
  });

  return [`[${name}]`, ...body].join('\n');
}

/** Writes a whole file: header comments, then the sections separated by blank lines. */
export function unitFile(header: readonly string[], sections: readonly string[]): string {
  const comments = header.map((line) => (line.startsWith('#') ? line : `# ${line}`));
  return `${[comments.join('\n'), ...sections].join('\n\n')}\n`;
}
