#!/usr/bin/python3
"""Dumps the IPv4 routes of every table with pyroute2, the peer of the dump benchmark.

Prints one JSON line: the routes received and the dump's time in milliseconds, from the
request to the last decoded message (the socket is opened before the clock starts, as in
the Node workers). Run it inside the namespace that contains the routes.
"""
import json
import socket
import sys
import time

from pyroute2 import IPRoute


def main() -> None:
    with IPRoute() as ipr:
        started = time.perf_counter()
        # get_routes() without a table keyword requests every table. It collects the whole dump
        # into a list of decoded messages, as our dumpAll does.
        routes = ipr.get_routes(family=socket.AF_INET)
        count = len(routes)
        dump_ms = (time.perf_counter() - started) * 1000
    json.dump({"routes": count, "dumpMs": dump_ms}, sys.stdout)
    sys.stdout.write("\n")


main()
