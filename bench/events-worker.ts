/**
 * The library-level feed of the events benchmark: a Subscription on a relay in NAMESPACE,
 * opened the way `algo-netns watch` opens it (all four families, a relay that can be
 * replaced), counting route events instead of printing them. Compared with `watch --json`,
 * it shows what the feed costs without the CLI's formatting and printing.
 *
 * Usage: node dist/bench/events-worker.js NAMESPACE EXPECTED
 * Prints the lines described in events-protocol.ts; EXPECTED is the churn's event count.
 * Stops on SIGTERM.
 */
import { Subscription } from '../src/netlink/subscription.js';
import { startRelay } from '../src/ops/relay/client.js';
import { CHURN_PREFIX, MARKER_DESTINATION, PROGRESS_EVERY, type FeedSummary } from './events-protocol.js';

async function main(): Promise<void> {
  const [namespace, expectedText] = process.argv.slice(2);
  const expected = Number(expectedText);
  if (namespace === undefined || !Number.isInteger(expected) || expected <= 0) {
    throw new Error(`usage: events-worker.js NAMESPACE EXPECTED, got ${JSON.stringify(process.argv.slice(2))}`);
  }

  const subscription = await Subscription.open(() => startRelay(namespace));
  process.once('SIGTERM', () => void subscription.close());

  const summary: FeedSummary = { newEvents: 0, delEvents: 0, overruns: 0, spanMs: 0 };
  let first = 0;
  try {
    for await (const event of subscription) {
      if (event.kind === 'overrun') {
        summary.overruns++;
        continue;
      }
      if (event.kind !== 'route') continue;

      const destination = event.route.attributes.dst ?? '';
      if (destination === MARKER_DESTINATION) {
        process.stdout.write('marker\n');
        continue;
      }
      if (!destination.startsWith(CHURN_PREFIX)) continue;

      const now = performance.now();
      if (event.action === 'new') summary.newEvents++;
      else summary.delEvents++;
      const counted = summary.newEvents + summary.delEvents;
      if (counted === 1) first = now;
      summary.spanMs = now - first;
      if (counted % PROGRESS_EVERY === 0 || counted === expected) process.stdout.write(`progress ${counted}\n`);
    }
  } catch (error) {
    // The feed gave up, for example after its relay failed more times than it reopens one.
    summary.error = error instanceof Error ? error.message : String(error);
    process.exitCode = 1;
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

await main();
