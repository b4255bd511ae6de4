/**
 * What the events benchmark shares with its worker processes (events-worker.ts and
 * bench/scripts/events-pyroute2.py): the namespace, the routes it changes, and the lines a
 * worker prints on stdout.
 *
 * A worker prints, one per line:
 *   `marker`      it saw a change of MARKER_DESTINATION, so its feed is live
 *   `progress N`  it has counted N churn events; printed every PROGRESS_EVERY events and
 *                 when N reaches the expected count
 *   a JSON object (FeedSummary) once, after SIGTERM, and then it exits
 */

/** The namespace the churn changes and every feed watches. */
export const EVENTS_NAMESPACE = 'bench-events';

/** The veth end every churn route points at; its peer is EVENTS_PEER_DEVICE. */
export const EVENTS_DEVICE = 'e0';
export const EVENTS_PEER_DEVICE = 'e1';

/**
 * The churn's destinations all lie in 10.0.0.0/8 (see routeDestination in
 * install-routes.ts), and a change of any other route is not counted.
 */
export const CHURN_PREFIX = '10.';

/**
 * A /32 from TEST-NET-1 (RFC 5737), outside the churn's range. The suite adds and deletes it
 * until a feed reports it, so that the churn starts only once the feed receives.
 */
export const MARKER_DESTINATION = '192.0.2.1';

/** A worker prints its count after this many churn events. */
export const PROGRESS_EVERY = 1000;

/** The last line of a worker. */
export interface FeedSummary {
  /** Churn routes reported as added (RTM_NEWROUTE) and as deleted (RTM_DELROUTE). */
  newEvents: number;
  delEvents: number;
  /** Times the feed reported lost notifications. */
  overruns: number;
  /** Milliseconds from the first churn event to the last, on the worker's own clock; 0 with fewer than two. */
  spanMs: number;
  /** Reason the feed ended before SIGTERM, if it did. */
  error?: string;
}
