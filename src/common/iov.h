/* Writing an iovec array with sendmsg/writev until all of it is sent. */
#ifndef RP_COMMON_IOV_H
#define RP_COMMON_IOV_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Moves msg past the k bytes a sendmsg just sent: drops the iovecs sent
 * whole (and any empty ones then at the front), and advances into the one
 * sent in part.  The caller sends again while msg->msg_iovlen > 0. */
static inline void rp__iov_advance(struct msghdr *msg, size_t k)
{
    while (msg->msg_iovlen && (k || !msg->msg_iov[0].iov_len)) {
        if (k >= msg->msg_iov[0].iov_len) {
            k -= msg->msg_iov[0].iov_len;
            msg->msg_iov++;
            msg->msg_iovlen--;
        } else {
            msg->msg_iov[0].iov_base = (char *)msg->msg_iov[0].iov_base + k;
            msg->msg_iov[0].iov_len -= k;
            k = 0;
        }
    }
}

#endif
