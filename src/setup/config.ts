/**
 * The topology configuration: its shape and the embedded defaults.
 *
 * Defaults follow Algo's config.cfg (client pools 10.49.0.0/16 and 10.48.0.0/16, the local
 * service addresses 172.16.0.1 and fd00::1). Every value can be overridden by a YAML or JSON
 * file; whatever the file omits keeps its default.
 */

/** One service namespace and the veth pair that joins it to the root namespace. */
export interface ServiceNamespaceConfig {
  /** Whether `up` builds this namespace at all. */
  enabled: boolean;
  /** Namespace name under /run/netns. */
  namespace: string;
  /** Name of the veth end that stays in the root namespace. */
  hostInterface: string;
  /** Name of the veth end inside the service namespace. */
  namespaceInterface: string;
  /** IPv4 transit network, a /30: the root side takes the first host, the namespace the second. */
  transitIPv4: string;
  /** IPv6 transit network: the root side takes network+1, the namespace network+2. */
  transitIPv6: string;
}

export interface WireGuardConfig extends ServiceNamespaceConfig {
  /** Name of the WireGuard interface moved into the namespace. */
  interface: string;
  /** Addresses given to the WireGuard interface, with prefix lengths. */
  addresses: string[];
  /** Client pools routed from the root namespace into this namespace. */
  clientPools: string[];
  /**
   * Name of an existing interface (made by wireguard-go, say) to move into the namespace, for
   * kernels without the WireGuard module. Null means create one with the kernel module.
   */
  adoptInterface: string | null;
  /**
   * A wg-quick style file (Algo writes /etc/wireguard/wg0.conf) whose keys and peers `up` sets
   * on the interface with `wg setconf`, and whose Address and MTU lines it applies. Null skips it.
   */
  configFile: string | null;
}

export interface StrongSwanConfig extends ServiceNamespaceConfig {
  /** IPsec client pools (virtual IPs) routed from the root namespace into this namespace. */
  clientPools: string[];
}

export interface DnsConfig extends ServiceNamespaceConfig {
  /** Addresses the resolver answers on, held only by the DNS namespace. */
  serviceAddresses: string[];
  /**
   * Whether `up` writes /etc/netns/NAME/resolv.conf for each service namespace, naming the
   * service addresses as its name servers (`ip netns exec` mounts it over /etc/resolv.conf).
   */
  resolvConf: boolean;
}

export interface FirewallConfig {
  /**
   * Whether `up` applies the nftables table `inet algo_netns`: the DNAT of IKE and ESP to
   * strongSwan's namespace, egress NAT, and the stateful isolation rules.
   */
  enabled: boolean;
  /** Whether the table masquerades the client pools and transit networks out of the uplink. */
  egressNat: boolean;
}

export interface TopologyConfig {
  /** The uplink interface in the root namespace; null means the device of the IPv4 default route. */
  uplink: string | null;
  /** Folder for the state file that records what `up` created. */
  stateDirectory: string;
  /** Priority of the first policy rule `up` adds; the others follow it. */
  rulePriority: number;
  /** Routing protocol number that marks routes and rules as ours (iproute2 shows it as a number). */
  routeProtocol: number;
  wireguard: WireGuardConfig;
  strongswan: StrongSwanConfig;
  dns: DnsConfig;
  firewall: FirewallConfig;
}

export type ServiceName = 'wireguard' | 'strongswan' | 'dns';

export const SERVICE_NAMES: readonly ServiceName[] = ['wireguard', 'strongswan', 'dns'];

/** Returns a fresh copy of the embedded defaults. */
export function defaultConfig(): TopologyConfig {
  return {
    uplink: null,
    stateDirectory: '/run/algo-netns',
    rulePriority: 10400,
    routeProtocol: 245,
    wireguard: {
      enabled: true,
      namespace: 'wireguard-ns',
      hostInterface: 've-wg',
      namespaceInterface: 'uplink',
      transitIPv4: '10.47.255.0/30',
      transitIPv6: 'fd47:255::/126',
      interface: 'wg0',
      addresses: ['10.49.0.1/16', '2001:db8:a160::1/48'],
      clientPools: ['10.49.0.0/16', '2001:db8:a160::/48'],
      adoptInterface: null,
      configFile: null,
    },
    strongswan: {
      enabled: true,
      namespace: 'strongswan-ns',
      hostInterface: 've-ipsec',
      namespaceInterface: 'uplink',
      transitIPv4: '10.47.255.4/30',
      transitIPv6: 'fd47:255::4/126',
      clientPools: ['10.48.0.0/16', '2001:db8:4160::/48'],
    },
    dns: {
      enabled: true,
      namespace: 'dns-ns',
      hostInterface: 've-dns',
      namespaceInterface: 'uplink',
      transitIPv4: '10.47.255.8/30',
      transitIPv6: 'fd47:255::8/126',
      serviceAddresses: ['172.16.0.1/32', 'fd00::1/128'],
      resolvConf: true,
    },
    firewall: {
      enabled: true,
      egressNat: true,
    },
  };
}
