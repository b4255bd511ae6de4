#!/bin/sh
# N service namespaces built with iproute2 alone: the peer of bench/scale-builder.ts in the
# scale benchmark. Namespace svc-I gets lo up, a veth pair vb-I / uplink, a /30 transit
# network from 100.64.0.0/10, a default route to the root side, and the root namespace a
# route to 10.(200 + I/256).(I%256).0/24 through it. Nine ip commands per namespace.
#
# Usage: scale-ip.sh up|down N
# Run it only inside a throwaway network namespace (the benchmark's sandbox).
set -eu

# Prints the transit addresses of namespace $1: root side, namespace side, and the pool.
plan() {
  base=$(($1 * 4))
  third=$((base / 256))
  fourth=$((base % 256))
  echo "100.64.$third.$((fourth + 1)) 100.64.$third.$((fourth + 2)) 10.$((200 + $1 / 256)).$(($1 % 256)).0/24"
}

up() {
  i=0
  while [ "$i" -lt "$1" ]; do
    set -- "$1" $(plan "$i")
    ns=svc-$i
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "vb-$i" type veth peer name uplink netns "$ns"
    ip addr add "$2/30" dev "vb-$i"
    ip -n "$ns" addr add "$3/30" dev uplink
    ip link set "vb-$i" up
    ip -n "$ns" link set uplink up
    ip -n "$ns" route add default via "$2" dev uplink
    ip route add "$4" via "$3" dev "vb-$i"
    i=$((i + 1))
  done
}

down() {
  i=0
  while [ "$i" -lt "$1" ]; do
    ip link del "vb-$i" 2>/dev/null || true
    ip netns del "svc-$i" 2>/dev/null || true
    i=$((i + 1))
  done
}

case "${1:-}" in
  up) up "${2:?usage: $0 up|down N}" ;;
  down) down "${2:?usage: $0 up|down N}" ;;
  *) echo "usage: $0 up|down N" >&2; exit 2 ;;
esac
