/** Names of message types, for logs and errors. */
import * as c from './constants.js';

const MESSAGE_TYPE_NAMES = new Map<number, string>([
  [c.NLMSG_NOOP, 'NLMSG_NOOP'],
  [c.NLMSG_ERROR, 'NLMSG_ERROR'],
  [c.NLMSG_DONE, 'NLMSG_DONE'],
  [c.NLMSG_OVERRUN, 'NLMSG_OVERRUN'],
  [c.RTM_NEWLINK, 'RTM_NEWLINK'],
  [c.RTM_DELLINK, 'RTM_DELLINK'],
  [c.RTM_GETLINK, 'RTM_GETLINK'],
  [c.RTM_SETLINK, 'RTM_SETLINK'],
  [c.RTM_NEWADDR, 'RTM_NEWADDR'],
  [c.RTM_DELADDR, 'RTM_DELADDR'],
  [c.RTM_GETADDR, 'RTM_GETADDR'],
  [c.RTM_NEWROUTE, 'RTM_NEWROUTE'],
  [c.RTM_DELROUTE, 'RTM_DELROUTE'],
  [c.RTM_GETROUTE, 'RTM_GETROUTE'],
  [c.RTM_NEWRULE, 'RTM_NEWRULE'],
  [c.RTM_DELRULE, 'RTM_DELRULE'],
  [c.RTM_GETRULE, 'RTM_GETRULE'],
  [c.RTM_NEWNSID, 'RTM_NEWNSID'],
  [c.RTM_DELNSID, 'RTM_DELNSID'],
  [c.RTM_GETNSID, 'RTM_GETNSID'],
]);

/** Returns "RTM_NEWLINK" for 16, and "unknown(N)" for a type this library does not name. */
export function messageTypeName(type: number): string {
  return MESSAGE_TYPE_NAMES.get(type) ?? `unknown(${type})`;
}
