/**
 * Alignment rules of netlink, ported once from the kernel headers so that no other
 * file needs a bare 4 or 16.
 */

/** #define NLMSG_ALIGNTO 4U  (include/uapi/linux/netlink.h) */
export const NLMSG_ALIGNTO = 4;

/** #define NLMSG_ALIGN(len) ( ((len)+NLMSG_ALIGNTO-1) & ~(NLMSG_ALIGNTO-1) ) */
export function nlmsgAlign(length: number): number {
  return (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}

/** #define NLMSG_HDRLEN ((int) NLMSG_ALIGN(sizeof(struct nlmsghdr))) */
export const NLMSG_HDRLEN = nlmsgAlign(16);

/** #define NLA_ALIGNTO 4 */
export const NLA_ALIGNTO = 4;

/** #define NLA_ALIGN(len) (((len) + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1)) */
export function nlaAlign(length: number): number {
  return (length + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
}

/** #define NLA_HDRLEN ((int) NLA_ALIGN(sizeof(struct nlattr))) */
export const NLA_HDRLEN = nlaAlign(4);

/** #define NLA_F_NESTED (1 << 15) */
export const NLA_F_NESTED = 1 << 15;

/** #define NLA_F_NET_BYTEORDER (1 << 14) */
export const NLA_F_NET_BYTEORDER = 1 << 14;

/** #define NLA_TYPE_MASK ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) */
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
