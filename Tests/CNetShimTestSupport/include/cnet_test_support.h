/*
 * cnet_test_support.h - per-thread sandboxing for the CNetShim tests, so a
 * test can make the kernel refuse io_uring for real (a seccomp filter, an
 * unprivileged user) on one thread without touching the rest of the test
 * process or the machine.  Test code only: never linked into the product.
 * Both calls return 0 or -errno and affect the calling thread (and threads
 * it creates) only; the effect ends when the thread exits.
 */
#ifndef CNET_TEST_SUPPORT_H
#define CNET_TEST_SUPPORT_H

#include <sys/types.h>

/* Install a seccomp filter on the calling thread that makes io_uring_setup
 * fail with -err (EPERM is what Docker's default profile answers). */
int cnet_test_thread_deny_io_uring_setup(int err);

/* Switch the calling thread's credentials to uid/gid with no supplementary
 * groups (raw syscalls: glibc's wrappers would switch every thread).  A
 * root thread that becomes another user loses its capabilities, so
 * RLIMIT_MEMLOCK applies to it. */
int cnet_test_thread_become(uid_t uid, gid_t gid);

#endif
