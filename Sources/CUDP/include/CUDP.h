// Batched UDP sends for Swift: sendmmsg(2) and UDP generic segmentation offload (UDP_SEGMENT).
//
// Swift's Glibc module exports neither `struct mmsghdr`/`sendmmsg` (they need _GNU_SOURCE) nor
// the UDP_SEGMENT option, so they are wrapped here. The header includes no system header on
// purpose: a module that includes <sys/socket.h> takes its macros (MSG_DONTWAIT...) away from
// Glibc for every Swift file that does not import it.
#ifndef MESHWORK_CUDP_H
#define MESHWORK_CUDP_H

/// One datagram (or, with a segment size, one run of datagrams) of a batch.
typedef struct {
    /// The destination: a `struct sockaddr_in` or `struct sockaddr_in6`, and its length.
    const void *name;
    unsigned int name_length;
    /// The data: `iov_count` entries of `struct iovec`.
    const void *iov;
    unsigned long iov_count;
    /// Nonzero: send as UDP GSO, cut into datagrams of this size (the last may be shorter).
    unsigned short segment_size;
    /// Bytes the kernel took (set by cudp_send_batch for each message it sent).
    unsigned int sent;
} cudp_message;

/// The most messages one cudp_send_batch call takes.
#define CUDP_MAXIMUM_MESSAGES 128

/// sendmmsg(2) of `count` (at most CUDP_MAXIMUM_MESSAGES) messages with `flags`: returns how many
/// were sent (their `sent` filled in), or -1 with errno when the first one failed.
int cudp_send_batch(int fd, cudp_message *messages, unsigned int count, int flags);

#endif
