"""Jinja filters of the algo_netns role, written with the standard library only."""

import ipaddress


def first_host(network):
    """Return the first address after a network's own, with the prefix length.

    "10.49.0.0/16" gives "10.49.0.1/16" and "2001:db8:a160::/48" gives "2001:db8:a160::1/48",
    as Algo's ``ansible.utils.ipaddr('1')`` does, without needing the netaddr package.
    """
    parsed = ipaddress.ip_network(str(network), strict=True)
    return f"{parsed.network_address + 1}/{parsed.prefixlen}"


class FilterModule:
    """Registers the filters with Ansible."""

    def filters(self):
        return {"algo_netns_first_host": first_host}
