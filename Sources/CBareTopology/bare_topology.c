/* The bare ZManager topology's only stage: see include/bare_topology.h. */
#define _GNU_SOURCE
#include "bare_topology.h"

#include <errno.h>
#include <sys/prctl.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static inline uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec request = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    struct timespec remaining;
    /* A signal must not shorten the stall. */
    while (nanosleep(&request, &remaining) != 0 && errno == EINTR)
        request = remaining;
}

/* Kept out of line so the pure forwarder's loop stays small. */
static __attribute__((noinline)) void apply_work(const zmb_work *work, zmq_msg_t *msg, uint64_t *local_count)
{
    /* One handler call per step, as ZManager's worker calls the handler once per step. */
    uint32_t steps = work->steps > 0 ? work->steps : 1;
    for (uint32_t step = 0; step < steps; step++) {
        if (work->stall_every > 0) {
            uint64_t n = work->stall_counter
                ? __atomic_add_fetch(work->stall_counter, 1, __ATOMIC_RELAXED)
                : ++*local_count;
            if (n % work->stall_every == 0)
                sleep_ns(work->stall_ns);
        }
        if (work->spin_ns > 0) {
            uint64_t end = monotonic_ns() + work->spin_ns;
            while (monotonic_ns() < end) {
            }
        }
    }
    if (work->rewrite_offset >= 0 && zmq_msg_size(msg) >= (size_t)work->rewrite_offset + 4) {
        /* In place: the message that PULL hands us is its content's only reference. */
        memcpy((char *)zmq_msg_data(msg) + work->rewrite_offset, work->rewrite, 4);
    }
}

int zmb_forward(void *in, void *out, const zmb_work *work, uint64_t *forwarded)
{
    /* A worker with nothing to do is a pure forwarder. */
    if (work && work->rewrite_offset < 0 && work->spin_ns == 0 && work->stall_every == 0)
        work = NULL;

    /* One message, initialised once: zmq_msg_recv releases its previous content, and a
       successful zmq_msg_send leaves it empty, so nothing is allocated or copied here. */
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    uint64_t count = 0, local_stall_count = 0;
    int first = 1;
    int err;

    for (;;) {
        while (zmq_msg_recv(&msg, in, 0) < 0) {
            if (errno != EINTR) {
                err = errno;
                goto done;
            }
        }
        /* Read before sending: the send empties the message and its flags. */
        int more = zmq_msg_more(&msg);
        if (work && first)
            apply_work(work, &msg, &local_stall_count);
        while (zmq_msg_send(&msg, out, more ? ZMQ_SNDMORE : 0) < 0) {
            if (errno != EINTR) {
                err = errno;
                goto done;
            }
        }
        first = !more;
        if (!more && forwarded)
            __atomic_store_n(forwarded, ++count, __ATOMIC_RELAXED);
    }

done:
    /* On a failed send the message still holds its content. */
    zmq_msg_close(&msg);
    return err == ETERM ? 0 : err;
}

void zmb_set_timer_slack(unsigned long nanoseconds)
{
    (void)prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}
