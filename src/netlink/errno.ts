/**
 * Names and messages for the errno values the kernel returns in netlink errors.
 */
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

// The glibc strerror() wording, which operators know from iproute2 ("RTNETLINK answers: File
// exists"). libuv's wording differs ("file already exists"), so it is only the fallback.
const GLIBC_MESSAGES: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EXDEV: 'Invalid cross-device link',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ENOSPC: 'No space left on device',
  ERANGE: 'Numerical result out of range',
  EMSGSIZE: 'Message too long',
  EPROTONOSUPPORT: 'Protocol not supported',
  EOPNOTSUPP: 'Operation not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETDOWN: 'Network is down',
  ENETUNREACH: 'Network is unreachable',
  ENOBUFS: 'No buffer space available',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENOTSUP: 'Operation not supported',
};

const NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  // ENOTSUP and EOPNOTSUPP share a number on Linux; keep the name iproute2 prints.
  if (!NAMES.has(value) || name === 'EOPNOTSUPP') NAMES.set(value, name);
}

/** Returns the symbolic name of a positive errno ("EEXIST"), or "E<number>" if unknown. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `E${errno}`;
}

/** Returns the strerror() text of a positive errno, such as "File exists". */
export function errnoMessage(errno: number): string {
  const name = errnoName(errno);
  const glibc = GLIBC_MESSAGES[name];
  if (glibc) return glibc;

  const libuv = getSystemErrorMap().get(-errno);
  if (libuv) return libuv[1].charAt(0).toUpperCase() + libuv[1].slice(1);
  return `Unknown error ${errno}`;
}
