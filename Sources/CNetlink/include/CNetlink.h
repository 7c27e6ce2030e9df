// Linux netlink, generic netlink, rtnetlink and WireGuard UAPI headers for Swift.
//
// Swift's Glibc module does not expose these. The static inline helpers below stand in for the
// header macros Swift cannot import (NLMSG_ALIGN and friends) and for constants that only exist as
// macros with casts.
#ifndef MESHWORK_CNETLINK_H
#define MESHWORK_CNETLINK_H

#include <sys/socket.h>
#include <sys/types.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/fib_rules.h>
#include <linux/wireguard.h>

/// NLMSG_ALIGN: rounds a length up to the netlink alignment (4).
static inline unsigned int cnetlink_nlmsg_align(unsigned int length) { return NLMSG_ALIGN(length); }
/// NLA_ALIGN: rounds an attribute length up to the attribute alignment (4).
static inline unsigned int cnetlink_nla_align(unsigned int length) { return NLA_ALIGN(length); }
/// NLMSG_HDRLEN: the aligned size of struct nlmsghdr.
static inline unsigned int cnetlink_nlmsg_hdrlen(void) { return NLMSG_HDRLEN; }
/// GENL_HDRLEN: the aligned size of struct genlmsghdr.
static inline unsigned int cnetlink_genl_hdrlen(void) { return GENL_HDRLEN; }
/// NLA_HDRLEN: the aligned size of struct nlattr.
static inline unsigned int cnetlink_nla_hdrlen(void) { return NLA_HDRLEN; }
/// NLA_TYPE_MASK: the attribute type without the nested and byte-order flags.
static inline unsigned short cnetlink_nla_type_mask(void) { return NLA_TYPE_MASK; }
/// CLONE_NEWNET, for setns(2).
static inline int cnetlink_clone_newnet(void) { return CLONE_NEWNET; }
/// setns(2), declared here so Swift need not depend on _GNU_SOURCE in Glibc.
int cnetlink_setns(int fd, int nstype);

#endif
