#!/usr/bin/env node
/**
 * Counts test results in a log that contains one or more TAP streams, such as AVA's `--tap` output,
 * and prints one line: `N passed, N failed, N skipped`.
 *
 * Usage: node scripts/count-tap.mjs [LOG]   (reads stdin without LOG)
 * Exit code: 0 when nothing failed and at least one test ran, 1 otherwise.
 *
 * A result line is `ok N - title` or `not ok N - title` (AVA always numbers them), at the start
 * of a line, optionally followed by a directive. `# SKIP` counts as skipped. `# TODO` (AVA's
 * test.todo, which it reports as `not ok`) also counts as skipped, because TAP does not count a
 * todo as a failure. Every other `not ok` is a failure, including AVA's reports of crashed
 * workers, hook failures and timeouts.
 *
 * Tests that never ran (their worker crashed first) have no result line. AVA counts them in the
 * `# fail N` comment after its plan, together with failed tests, crashes and todos, so a stream
 * whose `# fail` minus its todos exceeds its `not ok` lines counts that larger number as failed.
 * For a stream without that comment, a plan (`1..N`) that promises more tests than there are
 * result lines counts the missing ones as failed.
 */

import { readFileSync } from 'node:fs';

const RESULT_LINE = /^(not )?ok \d+\b(.*)$/;
const PLAN_LINE = /^1\.\.(\d+)\s*$/;
const FAIL_COMMENT = /^# fail (\d+)\s*$/;
const DIRECTIVE = /#\s*(skip|todo)\b/i;

function newStream() {
  return { passed: 0, failedLines: 0, skipped: 0, todo: 0, plan: null, failComment: null };
}

/** Adds one stream's results to `counts`. */
function addStream(counts, stream) {
  const lines = stream.passed + stream.failedLines + stream.skipped + stream.todo;
  let failed = stream.failedLines;

  if (stream.failComment !== null) {
    failed = Math.max(failed, stream.failComment - stream.todo);
  } else if (stream.plan !== null && lines < stream.plan) {
    failed += stream.plan - lines;
  }
  if (failed > stream.failedLines) {
    counts.problems.push(`${failed - stream.failedLines} failures had no result line (tests that never ran, or missing output)`);
  }

  counts.passed += stream.passed;
  counts.failed += failed;
  counts.skipped += stream.skipped + stream.todo;
}

/** Returns {passed, failed, skipped, problems} for the TAP streams found in `text`. */
function countTap(text) {
  const counts = { passed: 0, failed: 0, skipped: 0, problems: [] };
  let stream = newStream();

  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('TAP version')) {
      addStream(counts, stream);
      stream = newStream();
      continue;
    }

    const plan = PLAN_LINE.exec(line);
    if (plan !== null) {
      stream.plan = Number(plan[1]);
      continue;
    }

    // AVA's summary comments follow its plan; earlier `#` lines are test logs and titles.
    const failComment = stream.plan === null ? null : FAIL_COMMENT.exec(line);
    if (failComment !== null) {
      stream.failComment = Number(failComment[1]);
      continue;
    }

    const result = RESULT_LINE.exec(line);
    if (result === null) {
      continue;
    }

    const directive = DIRECTIVE.exec(result[2] ?? '');
    if (directive?.[1]?.toLowerCase() === 'todo') {
      stream.todo += 1;
    } else if (directive !== null) {
      stream.skipped += 1;
    } else if (result[1] === undefined) {
      stream.passed += 1;
    } else {
      stream.failedLines += 1;
    }
  }

  addStream(counts, stream);
  return counts;
}

function main() {
  const path = process.argv[2];
  const text = readFileSync(path ?? 0, 'utf8');
  const { passed, failed, skipped, problems } = countTap(text);

  for (const problem of problems) {
    process.stderr.write(`count-tap: ${problem}\n`);
  }
  process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exitCode = failed === 0 && passed + skipped > 0 ? 0 : 1;
}

main();
