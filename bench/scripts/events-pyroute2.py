#!/usr/bin/python3
"""Counts route notifications with pyroute2, the pyroute2 peer of the events benchmark.

Usage: events-pyroute2.py EXPECTED CHURN_PREFIX MARKER
Run it inside the namespace to watch. It binds an IPRoute socket to the IPv4 and IPv6
route groups, as `ip monitor route` does, and reads with IPRoute.get(), which decodes every
message. It counts the RTM_NEWROUTE and RTM_DELROUTE messages whose RTA_DST starts with
CHURN_PREFIX, and every ENOBUFS from recv() (the kernel dropped notifications) as an
overrun. Its stdout lines follow bench/events-protocol.ts: "marker" when it receives a
change of the route MARKER, "progress N" every 1000 counted events and at EXPECTED, and one
JSON summary after SIGTERM.
"""
import errno
import json
import signal
import sys
import time

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE

PROGRESS_EVERY = 1000


class Stopped(Exception):
    """Raised by the SIGTERM handler to leave the blocking read."""


def stop(_signum, _frame):
    raise Stopped()


def main() -> None:
    expected = int(sys.argv[1])
    churn_prefix = sys.argv[2]
    marker = sys.argv[3]
    counts = {"RTM_NEWROUTE": 0, "RTM_DELROUTE": 0}
    overruns = 0
    first = None
    span_ms = 0.0

    signal.signal(signal.SIGTERM, stop)
    ipr = IPRoute()
    try:
        ipr.bind(groups=RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE)
        while True:
            try:
                messages = ipr.get()
            except OSError as error:
                # After ENOBUFS the socket stays usable; the lost messages are gone.
                if error.errno != errno.ENOBUFS:
                    raise
                overruns += 1
                continue
            for message in messages:
                event = message.get("event")
                if event not in counts:
                    continue
                destination = message.get_attr("RTA_DST") or ""
                if destination == marker:
                    print("marker", flush=True)
                    continue
                if not destination.startswith(churn_prefix):
                    continue
                now = time.perf_counter()
                counts[event] += 1
                counted = counts["RTM_NEWROUTE"] + counts["RTM_DELROUTE"]
                if first is None:
                    first = now
                span_ms = (now - first) * 1000
                if counted % PROGRESS_EVERY == 0 or counted == expected:
                    print(f"progress {counted}", flush=True)
    except Stopped:
        pass
    summary = {
        "newEvents": counts["RTM_NEWROUTE"],
        "delEvents": counts["RTM_DELROUTE"],
        "overruns": overruns,
        "spanMs": span_ms,
    }
    print(json.dumps(summary), flush=True)
    ipr.close()


main()
