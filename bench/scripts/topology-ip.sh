#!/bin/sh
# The default algo-netns topology built with iproute2 and sysctl alone: the peer of
# `algo-netns up` and `algo-netns down` in the topology benchmark. It makes the same
# namespaces, veth pairs, addresses, routes, sysctls, rules and /etc/netns/NAME/resolv.conf
# files as `up` with the built-in defaults and the firewall off, in the same order, and
# `down` removes them. Like `up`, it skips wg0 where the kernel has no WireGuard module.
# Unlike `up`, it checks nothing first: it expects a clean host for `up`, and fails (set -e)
# if anything is already there.
#
# Usage: topology-ip.sh up|down
# Run it only inside a throwaway network namespace (the benchmark's sandbox).
set -eu

STATE=/run/algo-netns-ip
PROTO=245

# service  namespace  host-link  host-v4  peer-v4  host-v6  peer-v6  forwarding
SERVICES='wireguard wireguard-ns ve-wg 10.47.255.1 10.47.255.2 fd47:255::1 fd47:255::2 1
strongswan strongswan-ns ve-ipsec 10.47.255.5 10.47.255.6 fd47:255::5 fd47:255::6 1
dns dns-ns ve-dns 10.47.255.9 10.47.255.10 fd47:255::9 fd47:255::a 0'

routed_prefixes() {
  case "$1" in
    wireguard) echo '10.49.0.0/16 2001:db8:a160::/48' ;;
    strongswan) echo '10.48.0.0/16 2001:db8:4160::/48' ;;
    dns) echo '172.16.0.1/32 fd00::1/128' ;;
  esac
}

build_service() {
  service=$1 ns=$2 host=$3 host4=$4 peer4=$5 host6=$6 peer6=$7 forwarding=$8

  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "$host" type veth peer name uplink netns "$ns"
  ip link set "$host" alias algo-netns
  sysctl -qw "net.ipv4.conf.$host.rp_filter=1" "net.ipv6.conf.$host.accept_ra=0"
  ip netns exec "$ns" sysctl -qw \
    "net.ipv4.ip_forward=$forwarding" "net.ipv6.conf.all.forwarding=$forwarding" \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    net.ipv4.conf.uplink.rp_filter=1 net.ipv6.conf.uplink.accept_ra=0

  ip addr add "$host4/30" dev "$host"
  ip addr add "$host6/126" dev "$host" nodad
  ip -n "$ns" addr add "$peer4/30" dev uplink
  ip -n "$ns" addr add "$peer6/126" dev uplink nodad
  ip link set "$host" up
  ip -n "$ns" link set uplink up

  ip -n "$ns" route add default via "$host4" dev uplink proto "$PROTO"
  ip -n "$ns" -6 route add default via "$host6" dev uplink proto "$PROTO"
  for prefix in $(routed_prefixes "$service"); do
    case "$prefix" in
      *:*) ip -6 route add "$prefix" via "$peer6" dev "$host" proto "$PROTO" ;;
      *) ip route add "$prefix" via "$peer4" dev "$host" proto "$PROTO" ;;
    esac
  done

  if [ "$service" = dns ]; then
    ip -n "$ns" addr add 172.16.0.1/32 dev lo
    ip -n "$ns" addr add fd00::1/128 dev lo nodad
  fi
  if [ "$service" = wireguard ] && ip link add wg0 type wireguard 2>/dev/null; then
    ip link set wg0 alias algo-netns
    ip link set wg0 netns "$ns"
    ip -n "$ns" addr add 10.49.0.1/16 dev wg0
    ip -n "$ns" addr add 2001:db8:a160::1/48 dev wg0 nodad
    ip -n "$ns" link set wg0 up
  fi
}

up() {
  mkdir -p "$STATE"
  sysctl -n net.ipv4.ip_forward >"$STATE/ip_forward"
  sysctl -n net.ipv6.conf.all.forwarding >"$STATE/forwarding6"
  sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

  echo "$SERVICES" | while read -r line; do
    # shellcheck disable=SC2086 # one service's fields, split on purpose
    build_service $line
  done

  for ns in wireguard-ns strongswan-ns dns-ns; do
    mkdir -p "/etc/netns/$ns"
    printf '%s\n' '# Written by algo-netns up; algo-netns down removes this file.' \
      'nameserver 172.16.0.1' 'nameserver fd00::1' >"/etc/netns/$ns/resolv.conf"
  done

  ip rule add priority 10400 from 10.49.0.0/16 to 10.48.0.0/16 prohibit proto "$PROTO"
  ip -6 rule add priority 10400 from 2001:db8:a160::/48 to 2001:db8:4160::/48 prohibit proto "$PROTO"
  ip rule add priority 10401 from 10.48.0.0/16 to 10.49.0.0/16 prohibit proto "$PROTO"
  ip -6 rule add priority 10401 from 2001:db8:4160::/48 to 2001:db8:a160::/48 prohibit proto "$PROTO"
}

down() {
  for ns in wireguard-ns strongswan-ns dns-ns; do rm -r "/etc/netns/$ns"; done
  for link in ve-wg ve-ipsec ve-dns; do ip link del "$link"; done
  for ns in wireguard-ns strongswan-ns dns-ns; do ip netns del "$ns"; done
  ip rule del priority 10400 from 10.49.0.0/16 to 10.48.0.0/16 prohibit
  ip -6 rule del priority 10400 from 2001:db8:a160::/48 to 2001:db8:4160::/48 prohibit
  ip rule del priority 10401 from 10.48.0.0/16 to 10.49.0.0/16 prohibit
  ip -6 rule del priority 10401 from 2001:db8:4160::/48 to 2001:db8:a160::/48 prohibit
  sysctl -qw "net.ipv4.ip_forward=$(cat "$STATE/ip_forward")" "net.ipv6.conf.all.forwarding=$(cat "$STATE/forwarding6")"
  rm -rf "$STATE"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
