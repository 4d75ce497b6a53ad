/*
 * The bare ZManager topology: the same sockets and hops as ZManager, with no logic.
 *
 * Every stage (Subject, workers, Integration Manager) is one call to zmb_forward, so the
 * harness's calibration reference and the standalone C program (zmanager-bare-c) run the
 * identical stage code. The header needs no zmq.h: sockets are plain `void *` (what
 * zmq_socket returns), which keeps the Swift module free of a second libzmq import.
 */
#ifndef ZMB_BARE_TOPOLOGY_H
#define ZMB_BARE_TOPOLOGY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a worker does to each message; all zero (or a NULL pointer) = a pure forwarder. */
typedef struct zmb_work {
    /* >= 0: overwrite 4 bytes of the first frame at this offset, in place, when the frame
       is long enough (a worker turning "Push" into "done"); < 0: no rewrite. */
    int32_t rewrite_offset;
    char rewrite[4];
    /* > 0: busy-wait this many ns of wall clock (CLOCK_MONOTONIC) per message, like the
       Swift spin handler. */
    uint64_t spin_ns;
    /* > 0: on every stall_every-th message (1-based: the Nth, 2Nth, ...) sleep stall_ns
       before forwarding it. */
    uint64_t stall_every;
    uint64_t stall_ns;
    /* Handler calls per message (a flow's worker steps): the stall count and the spin
       apply once per step. 0 counts as 1. */
    uint32_t steps;
    /* Message count for stall_every, shared by all workers of one topology and updated
       with relaxed atomic adds (a plain pointer, not _Atomic, so Swift imports it as
       UnsafeMutablePointer<UInt64>). NULL: each zmb_forward call counts on its own. */
    uint64_t *stall_counter;
} zmb_work;

/*
 * Forwards every message received on `in` to `out` with blocking zmq_msg_recv and
 * zmq_msg_send (EINTR retried), until the context is terminated.
 *
 * Returns 0 on ETERM (zmq_ctx_shutdown / zmq_ctx_term), otherwise the errno of the call
 * that failed. The received message is sent as is (no copy); a multipart message keeps
 * its frames (ZMQ_SNDMORE while zmq_msg_more). `work` may be NULL (the Subject and the
 * Integration Manager); it applies once per message, to its first frame. `forwarded`,
 * if not NULL, receives the number of whole messages forwarded so far (a relaxed atomic
 * store per message, readable from another thread). The caller still owns and closes
 * the sockets.
 */
int zmb_forward(void *in, void *out, const zmb_work *work, uint64_t *forwarded);

/* Sets the calling thread's timer slack (PR_SET_TIMERSLACK): the default 50 us makes a
   paced sender oversleep every wake-up; 1 ns lets it sleep until just before a send time. */
void zmb_set_timer_slack(unsigned long nanoseconds);

#ifdef __cplusplus
}
#endif

#endif /* ZMB_BARE_TOPOLOGY_H */
