/**
 * The Perl relay: the same program as main.ts, written in Perl so that it starts in a few
 * milliseconds instead of Node's 60 or so. The parent runs it as
 * `nsenter --net=PATH -- /usr/bin/perl -e PERL_RELAY_SCRIPT`. It is TypeScript text because
 * tsc copies no other files into dist/.
 *
 * The script needs only perl-base, which Debian and Ubuntu mark Essential. It loads no module
 * but `strict`, because Socket adds about 6 ms to every start and POSIX about 9 ms (perl 5.36,
 * measured with `perl -MSocket -e 1`). So the kernel's numbers are written out below. The
 * frame kinds and the frame size limit come from protocol.ts.
 *
 * What differs from the Node relay:
 * - It reads each datagram into one 1 MiB buffer. The kernel sizes dump parts to the largest
 *   read it has seen, up to 32 KiB, so a dump arrives in fewer, larger frames than through the
 *   Node relay (about 4 KiB each).
 * - An overrun (ENOBUFS) becomes a socketError frame and the socket stays open, whereas the
 *   npm `netlink` package aborts the Node relay (see src/netlink/subscription.ts).
 * - After each datagram it sends, it reads what the kernel has queued before it reads the
 *   next frame, so that a burst of requests cannot fill the receive buffer with replies.
 * - It writes frames with blocking writes: while the parent is not reading, the relay waits
 *   and the kernel queues datagrams in the socket, where Node would buffer them in memory.
 */
import { FrameKind, MAX_FRAME_LENGTH } from './protocol.js';

/** Perl source that defines a constant `NAME` for each frame kind, and `%KIND_NAMES`. */
const frameKindConstants = Object.entries(FrameKind)
  .map(([name, value]) => `sub ${name.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()} () { ${value} }`)
  .join('\n');
const frameKindNames = Object.entries(FrameKind)
  .map(([name, value]) => `${value} => '${name}'`)
  .join(', ');

/** The Perl relay, to be run with `perl -e`. */
export const PERL_RELAY_SCRIPT = String.raw`
use strict;

# ps shows this name and the namespace (as /proc/PID/ns/net reads) instead of the script.
$0 = 'algo-netns-relay ' . (readlink('/proc/self/ns/net') // '');

# Numbers from the Linux UAPI headers. The socket options, open flags and errno values are
# those of the asm-generic headers, which x86 and arm64 use; alpha, mips, parisc and sparc
# define other values.
sub AF_NETLINK () { 16 }             # <linux/socket.h>
sub SOCK_RAW () { 3 }                # <linux/net.h>: enum sock_type
sub NETLINK_ROUTE () { 0 }           # <linux/netlink.h>
sub SOL_NETLINK () { 270 }           # <linux/socket.h>
sub NETLINK_ADD_MEMBERSHIP () { 1 }  # <linux/netlink.h>
sub SOL_SOCKET () { 1 }              # <asm-generic/socket.h>
sub SO_SNDBUF () { 7 }               # <asm-generic/socket.h>
sub SO_RCVBUF () { 8 }               # <asm-generic/socket.h>
sub MSG_DONTWAIT () { 0x40 }         # <linux/socket.h>
sub O_RDONLY () { 0 }                # <asm-generic/fcntl.h>
sub O_WRONLY () { 1 }                # <asm-generic/fcntl.h>
sub EINTR () { 4 }                   # <asm-generic/errno-base.h>
sub EAGAIN () { 11 }                 # <asm-generic/errno-base.h>
sub EINVAL () { 22 }                 # <asm-generic/errno-base.h>
sub EPIPE () { 32 }                  # <asm-generic/errno-base.h>
sub EMSGSIZE () { 90 }               # <asm-generic/errno.h>

# Frame kinds and limits of protocol.ts.
${frameKindConstants}
my %KIND_NAMES = (${frameKindNames});
sub MAX_FRAME_LENGTH () { ${MAX_FRAME_LENGTH} }

# Socket buffer sizes requested, as in main.ts; net.core.rmem_max and wmem_max cap them.
sub RECEIVE_BUFFER_SIZE () { 8 * 1024 * 1024 }
sub SEND_BUFFER_SIZE () { 1024 * 1024 }
# Largest datagram passed on. Reads ask for one byte more, so that a longer one shows.
sub MAX_DATAGRAM () { 1024 * 1024 }
# Bytes of stdin read at a time.
sub INPUT_CHUNK () { 64 * 1024 }
# Datagrams read in a row before stdin gets its turn again.
sub READ_BATCH () { 64 }

# A write to a closed pipe returns EPIPE instead of killing the relay.
$SIG{PIPE} = 'IGNORE';

sub fail {
  print STDERR "algo-netns relay: $_[0]\n";
  exit 1;
}

sub write_frame {
  my ($kind, $body) = @_;
  my $frame = pack('VC', 1 + length($body), $kind) . $body;
  my $written = 0;
  while ($written < length($frame)) {
    my $count = syswrite(STDOUT, $frame, length($frame) - $written, $written);
    if (defined $count) {
      $written += $count;
      next;
    }
    # EPIPE: the parent is gone.
    exit 0 if $! == EPIPE;
    if ($! == EAGAIN) {
      my $writable = '';
      vec($writable, fileno(STDOUT), 1) = 1;
      select(undef, $writable, undef, undef);
      next;
    }
    fail("cannot write to stdout: $!") unless $! == EINTR;
  }
}

sub reply_ok {
  my ($id, $value) = @_;
  write_frame(REPLY_OK, pack('V', $id) . $value);
}

sub reply_error {
  my ($id, $errno, $message) = @_;
  write_frame(REPLY_ERROR, pack('VV', $id, $errno) . $message);
}

sub socket_error {
  my ($errno, $message) = @_;
  write_frame(SOCKET_ERROR, pack('V', $errno) . $message);
}

socket(my $socket, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)
  or fail("cannot open a NETLINK_ROUTE socket: $!");
setsockopt($socket, SOL_SOCKET, SO_RCVBUF, pack('i', RECEIVE_BUFFER_SIZE))
  or fail("cannot set SO_RCVBUF on the NETLINK_ROUTE socket: $!");
setsockopt($socket, SOL_SOCKET, SO_SNDBUF, pack('i', SEND_BUFFER_SIZE))
  or fail("cannot set SO_SNDBUF on the NETLINK_ROUTE socket: $!");
# struct sockaddr_nl: u16 nl_family, u16 nl_pad, u32 nl_pid, u32 nl_groups. Port 0 lets the
# kernel assign one.
bind($socket, pack('SSLL', AF_NETLINK, 0, 0, 0))
  or fail("cannot bind the NETLINK_ROUTE socket: $!");
my (undef, undef, $port) = unpack('SSLL', getsockname($socket));

my $datagram = '';

# Passes on the datagrams the kernel has queued, up to READ_BATCH of them, without waiting.
sub read_datagrams {
  for (1 .. READ_BATCH) {
    my $sender = recv($socket, $datagram, MAX_DATAGRAM + 1, MSG_DONTWAIT);
    if (!defined $sender) {
      return if $! == EAGAIN;
      next if $! == EINTR;
      # An overrun (ENOBUFS) or a failed dump part. The kernel reports such an error once
      # and clears it, and the socket stays usable.
      socket_error($! + 0, "$!");
      next;
    }
    if (length($datagram) > MAX_DATAGRAM) {
      socket_error(EMSGSIZE, 'datagram truncated: longer than ' . MAX_DATAGRAM . ' bytes');
      next;
    }
    write_frame(FROM_KERNEL, $datagram);
  }
}

# The parent maps sysctl keys to paths; the relay opens nothing outside /proc/sys.
sub is_sysctl_file {
  my ($path) = @_;
  return index($path, '/proc/sys/') == 0 && index($path, "\0") < 0 && !grep { $_ eq '..' } split(m{/}, $path);
}

sub read_sysctl {
  my ($id, $path) = @_;
  return reply_error($id, EINVAL, "expected a file under /proc/sys, got '$path'") unless is_sysctl_file($path);

  sysopen(my $file, $path, O_RDONLY) or return reply_error($id, $! + 0, "$!, open '$path'");
  my $value = '';
  for (;;) {
    my $count = sysread($file, $value, 65536, length($value));
    last if defined $count && $count == 0;
    next if defined $count || $! == EINTR;
    my ($errno, $message) = ($! + 0, "$!, read '$path'");
    close($file);
    return reply_error($id, $errno, $message);
  }
  close($file);

  $value =~ s/\A\s+|\s+\z//g;
  reply_ok($id, $value);
}

sub write_sysctl {
  my ($id, $path, $value) = @_;
  return reply_error($id, EINVAL, "expected a file under /proc/sys, got '$path'") unless is_sysctl_file($path);

  # O_WRONLY without O_CREAT: some keys are write-only (net.ipv4.route.flush is 0200), and a
  # missing key must fail with ENOENT.
  sysopen(my $file, $path, O_WRONLY) or return reply_error($id, $! + 0, "$!, open '$path'");
  # procfs applies a sysctl write per write(2) call, so the value goes out in one call.
  my $data = "$value\n";
  my $count = syswrite($file, $data);
  if (!defined $count) {
    my ($errno, $message) = ($! + 0, "$!, write '$path'");
    close($file);
    return reply_error($id, $errno, $message);
  }
  if ($count != length($data)) {
    close($file);
    return reply_error($id, 0, "wrote $count of " . length($data) . ' bytes');
  }
  close($file) or return reply_error($id, $! + 0, "$!, close '$path'");
  reply_ok($id, '');
}

sub expect_body_size {
  my ($kind, $body, $size, $exact) = @_;
  my $length = length($body);
  return if $exact ? $length == $size : $length >= $size;
  my $expected = $exact ? $size : "at least $size";
  fail("Relay $KIND_NAMES{$kind} frame has a $length-byte body, expected $expected");
}

sub handle_frame {
  my ($kind, $body) = @_;
  if ($kind == TO_KERNEL) {
    # A datagram goes out whole or not at all.
    defined send($socket, $body, 0) or socket_error($! + 0, "$!");
    read_datagrams();
  } elsif ($kind == JOIN_GROUP) {
    expect_body_size($kind, $body, 8, 1);
    my ($id, $group) = unpack('VV', $body);
    if (setsockopt($socket, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, pack('L', $group))) {
      reply_ok($id, '');
    } else {
      reply_error($id, $! + 0, "$!, setsockopt NETLINK_ADD_MEMBERSHIP $group");
    }
  } elsif ($kind == READ_SYSCTL) {
    expect_body_size($kind, $body, 4);
    read_sysctl(unpack('V', $body), substr($body, 4));
  } elsif ($kind == WRITE_SYSCTL) {
    expect_body_size($kind, $body, 8);
    my ($id, $path_length) = unpack('VV', $body);
    my $path_end = 8 + $path_length;
    if ($path_end > length($body)) {
      fail("Relay writeSysctl frame declares a path ending at byte $path_end of a " . length($body) . '-byte body');
    }
    write_sysctl($id, substr($body, 8, $path_length), substr($body, $path_end));
  } elsif (exists $KIND_NAMES{$kind}) {
    fail("unexpected $KIND_NAMES{$kind} frame from the parent");
  } else {
    fail("Unknown relay frame kind $kind (" . length($body) . '-byte body)');
  }
}

my $input = '';
# Stream offset of the first byte in $input, for error messages.
my $consumed = 0;

# Reads a chunk of stdin and handles the frames it completes. Exits when stdin ends, which
# happens when the parent closes it or dies.
sub read_input {
  my $count = sysread(STDIN, $input, INPUT_CHUNK, length($input));
  if (!defined $count) {
    return if $! == EINTR || $! == EAGAIN;
    fail("cannot read stdin: $!");
  }
  exit 0 if $count == 0;

  my $offset = 0;
  while (length($input) - $offset >= 4) {
    my $length = unpack('V', substr($input, $offset, 4));
    if ($length < 1 || $length > MAX_FRAME_LENGTH) {
      my $at = $consumed + $offset;
      fail("Relay frame length $length at stream offset $at is out of range: expected 1 to " . MAX_FRAME_LENGTH . ' bytes');
    }
    last if length($input) - $offset - 4 < $length;
    handle_frame(ord(substr($input, $offset + 4, 1)), substr($input, $offset + 5, $length - 1));
    $offset += 4 + $length;
  }
  substr($input, 0, $offset) = '';
  $consumed += $offset;
}

write_frame(READY, pack('VV', $$, $port));

my $watched = '';
vec($watched, fileno(STDIN), 1) = 1;
vec($watched, fileno($socket), 1) = 1;
for (;;) {
  my $ready = $watched;
  if (select($ready, undef, undef, undef) < 0) {
    next if $! == EINTR;
    fail("select failed: $!");
  }
  read_datagrams() if vec($ready, fileno($socket), 1);
  read_input() if vec($ready, fileno(STDIN), 1);
}
`;
