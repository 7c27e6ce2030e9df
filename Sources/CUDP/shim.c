#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "CUDP.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

int cudp_send_batch(int fd, cudp_message *messages, unsigned int count, int flags) {
    if (count > CUDP_MAXIMUM_MESSAGES) {
        errno = EINVAL;
        return -1;
    }
    struct mmsghdr headers[CUDP_MAXIMUM_MESSAGES];
    union {
        char bytes[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } controls[CUDP_MAXIMUM_MESSAGES];
    for (unsigned int index = 0; index < count; index++) {
        struct msghdr *header = &headers[index].msg_hdr;
        memset(header, 0, sizeof(*header));
        header->msg_name = (void *)messages[index].name;
        header->msg_namelen = messages[index].name_length;
        header->msg_iov = (struct iovec *)messages[index].iov;
        header->msg_iovlen = messages[index].iov_count;
        if (messages[index].segment_size != 0) {
            uint16_t size = messages[index].segment_size;
            memset(controls[index].bytes, 0, sizeof(controls[index].bytes));
            header->msg_control = controls[index].bytes;
            header->msg_controllen = sizeof(controls[index].bytes);
            struct cmsghdr *control = CMSG_FIRSTHDR(header);
            control->cmsg_level = SOL_UDP;
            control->cmsg_type = UDP_SEGMENT;
            control->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            memcpy(CMSG_DATA(control), &size, sizeof(size));
        }
        headers[index].msg_len = 0;
    }
    int sent = sendmmsg(fd, headers, count, flags);
    for (int index = 0; index < sent; index++) messages[index].sent = headers[index].msg_len;
    return sent;
}
