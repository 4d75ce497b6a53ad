/*
 * zmanager-bare-c: the bare ZManager topology, written as a C programmer would.
 *
 *   client PUSH --connect--> Subject PULL(bind) -> Subject PUSH(bind)
 *     --> N workers PULL(connect) -> worker PUSH(connect)
 *     --> Integration Manager PULL(bind) -> IM PUB(bind) --> client SUB(connect, prefix)
 *
 * Every stage is zmb_forward (CBareTopology), the code the harness calibrates with; the
 * workers only turn "Push" into "done" in the header (and optionally spin). One client
 * thread keeps --in-flight messages outstanding (closed loop) and prints one JSON line.
 *
 * --loopback runs the client through the Integration Manager's stage alone (PULL -> PUB):
 * the ceiling of a C client on this machine, which the harness's generator is compared with.
 */
#define _GNU_SOURCE
#include "bare_topology.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ---- Wire format ------------------------------------------------------------------ */

#define FLOW_PREFIX "Bench_echo~~harness~~"
#define REQUEST_PREFIX FLOW_PREFIX "Push~"
#define ANSWER_PREFIX FLOW_PREFIX "done~"
#define MESSAGE_ID "00000000-0000-4000-8000-000000000000" /* 36 chars, uuid-shaped, constant */
#define HEADER REQUEST_PREFIX MESSAGE_ID "~"
#define HEADER_LEN (sizeof(HEADER) - 1)
#define REWRITE_OFFSET (sizeof(FLOW_PREFIX) - 1)

/* Payload, right after the header: seq, send time (CLOCK_MONOTONIC ns), kind. */
#define PAYLOAD_MIN 24
enum { KIND_PROBE = 0x70726f6265ull, KIND_LOAD = 0x6c6f6164ull };

#define SAMPLE_CAP (20u * 1000u * 1000u)
#define STALL_TIMEOUT_MS 5000 /* no answer for this long while loaded: the pipeline is stuck */
#define READY_TIMEOUT_NS (10ull * 1000000000u)
#define DRAIN_TIMEOUT_NS (2ull * 1000000000u)
#define EP_MAX 256

/* ---- Options ---------------------------------------------------------------------- */

enum transport { T_INPROC, T_IPC, T_TCP };
static const char *const transport_names[] = { "inproc", "ipc", "tcp" };

static struct {
    enum transport transport;
    int processes;
    unsigned workers;
    uint64_t in_flight;
    uint64_t size;
    int hwm;
    uint64_t warmup_ms, measure_ms;
    uint64_t spin_ns, stall_every, stall_ns;
    int zero_copy;
    int loopback;
} opt = { T_INPROC, 0, 2, 1000, 64, 10000, 300, 2000, 0, 0, 0, 0, 0 };

/* ---- Process-wide state for cleanup ------------------------------------------------ */

enum { EP_SUBJECT_IN, EP_SUBJECT_OUT, EP_IM_IN, EP_IM_OUT, EP_COUNT };
static const char *const ep_names[EP_COUNT] = { "subject-in", "subject-out", "im-in", "im-out" };
static char endpoints[EP_COUNT][EP_MAX];   /* what binders bind to (tcp: "...:*") */
static char connect_to[EP_COUNT][EP_MAX];  /* what connecters connect to */
static const char *ipc_paths[EP_COUNT];
static pid_t children[2 + 1024];
static unsigned child_count;

static void cleanup(void)
{
    for (unsigned i = 0; i < child_count; i++)
        kill(children[i], SIGTERM);
    for (unsigned i = 0; i < child_count; i++)
        while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR) {
        }
    child_count = 0;
    if (opt.transport == T_IPC)
        for (int i = 0; i < EP_COUNT; i++)
            unlink(ipc_paths[i]);
}

/* SIGINT/SIGTERM/SIGHUP in the parent (e.g. from `timeout`): leave no stage process or
   ipc socket file behind. kill, waitpid, unlink and _exit are async-signal-safe. */
static void on_signal(int sig)
{
    cleanup();
    _exit(128 + sig);
}

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("zmanager-bare-c: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    cleanup();
    exit(1);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- Sockets ---------------------------------------------------------------------- */

static void *make_socket(void *ctx, int type, int rcvhwm)
{
    void *s = zmq_socket(ctx, type);
    if (!s)
        return NULL;
    int zero = 0;
    /* LINGER 0: whatever is still queued at the end is dropped, so term never waits. */
    if (zmq_setsockopt(s, ZMQ_SNDHWM, &opt.hwm, sizeof opt.hwm) != 0
        || zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm) != 0
        || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Binds endpoint `ep` and stores what to connect to (tcp: the port the OS chose). */
static int bind_endpoint(void *s, int ep, char *resolved)
{
    if (zmq_bind(s, endpoints[ep]) != 0)
        return -1;
    size_t len = EP_MAX;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, resolved, &len) != 0)
        return -1;
    return 0;
}

/* A stage's two sockets. Binders: Subject (in, out) and IM (in, out). */
struct stage {
    void *in, *out;
    const zmb_work *work;
    pthread_t thread;
    int error;
};

/* Creates a stage's sockets: `bind_in`/`bind_out` are endpoint indices to bind,
   `conn_in`/`conn_out` to connect (-1: not that). Returns NULL on success, else a
   description of what failed (errno set). */
static const char *open_stage(void *ctx, struct stage *st, int in_type, int out_type, int in_ep, int in_bind,
                              int out_ep, int out_bind, char resolved[2][EP_MAX])
{
    st->in = make_socket(ctx, in_type, opt.hwm);
    if (!st->in)
        return "zmq_socket";
    st->out = make_socket(ctx, out_type, opt.hwm);
    if (!st->out)
        return "zmq_socket";
    if (in_bind ? bind_endpoint(st->in, in_ep, resolved[0]) : zmq_connect(st->in, connect_to[in_ep]))
        return in_bind ? endpoints[in_ep] : connect_to[in_ep];
    if (out_bind ? bind_endpoint(st->out, out_ep, resolved[1]) : zmq_connect(st->out, connect_to[out_ep]))
        return out_bind ? endpoints[out_ep] : connect_to[out_ep];
    return NULL;
}

static void *stage_thread(void *arg)
{
    struct stage *st = arg;
    st->error = zmb_forward(st->in, st->out, st->work, NULL);
    zmq_close(st->in);
    zmq_close(st->out);
    return NULL;
}

/* ---- Zero-copy pool ----------------------------------------------------------------- */

/* The client takes free slots in order; libzmq frees them from whichever thread drops the
   last reference (an I/O thread, or the client itself over inproc). Only the client sets
   busy, only the free callback clears it: a flag per slot is enough. */
struct slot {
    char *data;
    int busy;
};
static struct slot *pool;
static size_t pool_size, pool_cursor;
static uint64_t pool_fallbacks;

static void pool_free(void *data, void *hint)
{
    (void)data;
    __atomic_store_n(&((struct slot *)hint)->busy, 0, __ATOMIC_RELEASE);
}

/* ---- Client ------------------------------------------------------------------------- */

struct client {
    void *push, *sub;
    size_t msg_len;
    uint64_t seq;           /* next load sequence number */
    uint64_t outstanding;
    /* measure window, by send time for sends and by receive time for receives */
    uint64_t t_m0, t_m1;
    uint64_t seq_m0, seq_m1;
    int have_m0;
    uint64_t messages;      /* received during the window */
    uint64_t *samples;
    uint64_t sample_count;
    uint8_t *seen;          /* bit per load seq: received */
    uint64_t seen_bits;
    uint64_t duplicates, malformed;
    int probe_seen;
};

static void ensure_seen(struct client *c, uint64_t seq)
{
    while (seq >= c->seen_bits) {
        uint64_t bits = c->seen_bits ? c->seen_bits * 2 : (1u << 24);
        uint8_t *grown = realloc(c->seen, bits / 8);
        if (!grown)
            fail("out of memory for the sequence bitmap");
        memset(grown + c->seen_bits / 8, 0, (bits - c->seen_bits) / 8);
        c->seen = grown;
        c->seen_bits = bits;
    }
}

static void mark_seen(struct client *c, uint64_t seq)
{
    ensure_seen(c, seq);
    uint8_t bit = (uint8_t)(1u << (seq & 7));
    if (c->seen[seq >> 3] & bit) {
        c->duplicates++;
    } else {
        c->seen[seq >> 3] |= bit;
        c->outstanding--;
    }
}

/* Builds the next message in `m` (header, then seq/time/kind at the payload's start). */
static void build(struct client *c, zmq_msg_t *m)
{
    char *data = NULL;
    if (opt.zero_copy) {
        for (size_t tries = 0; tries < pool_size; tries++) {
            struct slot *s = &pool[pool_cursor];
            pool_cursor = pool_cursor + 1 == pool_size ? 0 : pool_cursor + 1;
            if (!__atomic_load_n(&s->busy, __ATOMIC_ACQUIRE)) {
                s->busy = 1;
                if (zmq_msg_init_data(m, s->data, c->msg_len, pool_free, s) != 0)
                    fail("zmq_msg_init_data: %s", zmq_strerror(errno));
                data = s->data;
                break;
            }
        }
        if (!data)
            pool_fallbacks++;
    }
    if (!data) {
        if (zmq_msg_init_size(m, c->msg_len) != 0)
            fail("zmq_msg_init_size: %s", zmq_strerror(errno));
        data = zmq_msg_data(m);
    }
    memcpy(data, HEADER, HEADER_LEN);
}

static inline void stamp(zmq_msg_t *m, uint64_t seq, uint64_t sent, uint64_t kind)
{
    uint64_t fields[3] = { seq, sent, kind };
    memcpy((char *)zmq_msg_data(m) + HEADER_LEN, fields, sizeof fields);
}

/* Handles one answer received at `now`. */
static void answer(struct client *c, zmq_msg_t *m, uint64_t now)
{
    if (zmq_msg_size(m) < HEADER_LEN + PAYLOAD_MIN) {
        c->malformed++;
        return;
    }
    uint64_t fields[3];
    memcpy(fields, (char *)zmq_msg_data(m) + HEADER_LEN, sizeof fields);
    if (fields[2] == KIND_PROBE) {
        c->probe_seen = 1;
        return;
    }
    if (fields[2] != KIND_LOAD || fields[0] >= c->seq) {
        c->malformed++;
        return;
    }
    mark_seen(c, fields[0]);
    if (now >= c->t_m0 && now < c->t_m1) {
        c->messages++;
        if (c->sample_count < SAMPLE_CAP)
            c->samples[c->sample_count++] = now - fields[1];
    }
}

/* Receives everything already queued; returns how many. */
static uint64_t receive_ready(struct client *c, zmq_msg_t *m)
{
    uint64_t n = 0;
    for (;;) {
        if (zmq_msg_recv(m, c->sub, ZMQ_DONTWAIT) < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return n;
            fail("receive: %s", zmq_strerror(errno));
        }
        answer(c, m, now_ns());
        n++;
    }
}

/* Waits up to `timeout_ns` for the SUB to become readable. */
static void wait_readable(struct client *c, uint64_t timeout_ns)
{
    zmq_pollitem_t item = { c->sub, 0, ZMQ_POLLIN, 0 };
    long ms = (long)((timeout_ns + 999999) / 1000000);
    if (zmq_poll(&item, 1, ms) < 0 && errno != EINTR)
        fail("zmq_poll: %s", zmq_strerror(errno));
}

/* Probes until one comes back: a SUB's subscription reaches the PUB some time after
   connect, and the PUB drops everything before that. */
static void wait_ready(struct client *c, zmq_msg_t *m)
{
    uint64_t start = now_ns();
    for (uint64_t probe = 0; !c->probe_seen; probe++) {
        if (now_ns() - start > READY_TIMEOUT_NS)
            fail("the topology is not answering: no probe came back within 10 s");
        build(c, m);
        stamp(m, probe, now_ns(), KIND_PROBE);
        if (zmq_msg_send(m, c->push, ZMQ_DONTWAIT) < 0) {
            if (errno != EAGAIN && errno != EINTR)
                fail("send: %s", zmq_strerror(errno));
            zmq_msg_close(m);
            zmq_msg_init(m);
        }
        wait_readable(c, 10000000);
        receive_ready(c, m);
    }
}

static void run_client(struct client *c)
{
    zmq_msg_t in, out;
    zmq_msg_init(&in);
    zmq_msg_init(&out);
    int pending = 0; /* `out` holds a built message that met EAGAIN */

    wait_ready(c, &in);

    c->t_m0 = now_ns() + opt.warmup_ms * 1000000u;
    c->t_m1 = c->t_m0 + opt.measure_ms * 1000000u;

    for (int sending = 1; sending;) {
        while (c->outstanding < opt.in_flight) {
            uint64_t sent = now_ns();
            if (sent >= c->t_m1) {
                sending = 0;
                break;
            }
            if (!pending)
                build(c, &out);
            stamp(&out, c->seq, sent, KIND_LOAD);
            if (zmq_msg_send(&out, c->push, ZMQ_DONTWAIT) < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    pending = 1;
                    break;
                }
                fail("send: %s", zmq_strerror(errno));
            }
            pending = 0;
            if (!c->have_m0 && sent >= c->t_m0) {
                c->seq_m0 = c->seq;
                c->have_m0 = 1;
            }
            c->seq++;
            c->outstanding++;
        }
        if (!sending)
            break;
        if (pending) {
            /* The PUSH is full. Wait on both sockets: the news that its pipe has room is a
               command on the PUSH's own mailbox, which a blocking receive on the SUB would
               never process (with nothing outstanding, that would wait forever). */
            zmq_pollitem_t items[2] = { { c->sub, 0, ZMQ_POLLIN, 0 }, { c->push, 0, ZMQ_POLLOUT, 0 } };
            int n = zmq_poll(items, 2, STALL_TIMEOUT_MS);
            if (n < 0 && errno != EINTR)
                fail("zmq_poll: %s", zmq_strerror(errno));
            if (n == 0)
                fail("no answer and no room to send for %d ms with %" PRIu64 " outstanding", STALL_TIMEOUT_MS,
                     c->outstanding);
            receive_ready(c, &in);
            continue;
        }
        /* One blocking receive (RCVTIMEO catches a stuck pipeline), then all that is queued. */
        while (zmq_msg_recv(&in, c->sub, 0) < 0) {
            if (errno == EAGAIN)
                fail("no answer for %d ms with %" PRIu64 " outstanding", STALL_TIMEOUT_MS, c->outstanding);
            if (errno != EINTR)
                fail("receive: %s", zmq_strerror(errno));
        }
        answer(c, &in, now_ns());
        receive_ready(c, &in);
    }
    c->seq_m1 = c->seq;
    if (!c->have_m0)
        c->seq_m0 = c->seq;
    if (pending)
        zmq_msg_close(&out);

    /* Drain what is still outstanding, bounded: what does not arrive counts as lost. */
    uint64_t deadline = now_ns() + DRAIN_TIMEOUT_NS;
    for (uint64_t now; c->outstanding > 0 && (now = now_ns()) < deadline;) {
        wait_readable(c, deadline - now);
        receive_ready(c, &in);
    }
    zmq_msg_close(&in);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t percentile(const uint64_t *sorted, uint64_t n, double p)
{
    if (n == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* ---- Processes mode ------------------------------------------------------------------ */

struct report {
    int error;
    char what[EP_MAX];
    char endpoint[2][EP_MAX];
};

static void child_setup(void)
{
    /* Die with the parent (e.g. when `timeout` kills it), and by default on SIGTERM: a
       stage blocked in libzmq has nothing to clean up. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Forks a stage. A binding stage reports its endpoints (or its error) through a pipe
   before forwarding; the parent waits for that report. */
static void fork_stage(int in_type, int out_type, int in_ep, int in_bind, int out_ep, int out_bind,
                       const zmb_work *work, struct report *report)
{
    int fds[2] = { -1, -1 };
    if (report && pipe(fds) != 0)
        fail("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        fail("fork: %s", strerror(errno));
    if (pid == 0) {
        child_count = 0; /* the parent's children are not ours */
        child_setup();
        if (getppid() != parent)
            _exit(1);
        void *ctx = zmq_ctx_new();
        struct stage st = { 0 };
        struct report r = { 0 };
        const char *what = ctx ? open_stage(ctx, &st, in_type, out_type, in_ep, in_bind, out_ep, out_bind, r.endpoint)
                               : "zmq_ctx_new";
        if (what) {
            r.error = errno ? errno : EINVAL;
            snprintf(r.what, sizeof r.what, "%s", what);
        }
        if (report) {
            close(fds[0]);
            if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
                _exit(1);
            close(fds[1]);
        } else if (what) {
            fprintf(stderr, "zmanager-bare-c: worker %d: %s: %s\n", (int)getpid(), what, zmq_strerror(r.error));
        }
        if (what)
            _exit(1);
        int rc = zmb_forward(st.in, st.out, work, NULL);
        fprintf(stderr, "zmanager-bare-c: stage %d: forwarding stopped: %s\n", (int)getpid(), zmq_strerror(rc));
        _exit(1);
    }
    children[child_count++] = pid;
    if (report) {
        close(fds[1]);
        ssize_t got;
        while ((got = read(fds[0], report, sizeof *report)) < 0 && errno == EINTR) {
        }
        close(fds[0]);
        if (got != (ssize_t)sizeof *report)
            fail("a stage process died before binding");
        if (report->error)
            fail("stage process: %s: %s", report->what, zmq_strerror(report->error));
    }
}

/* ---- Main ------------------------------------------------------------------------------ */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: zmanager-bare-c [options]\n"
            "  --transport inproc|ipc|tcp     (default inproc)\n"
            "  --deployment threads|processes (default threads; processes needs ipc or tcp)\n"
            "  --workers N                    (default 2)\n"
            "  --in-flight N                  messages outstanding, closed loop (default 1000)\n"
            "  --size BYTES                   payload after the header (default 64, min %d)\n"
            "  --hwm N                        SNDHWM/RCVHWM of every socket (default 10000)\n"
            "  --warmup-ms N                  (default 300)\n"
            "  --measure-ms N                 (default 2000)\n"
            "  --spin-ns N                    worker busy-wait per message (default 0)\n"
            "  --stall-every N --stall-ns N   workers sleep stall-ns on every Nth message\n"
            "  --zero-copy                    client sends from a buffer pool (zmq_msg_init_data)\n"
            "  --loopback                     client -> one forwarder (PULL -> PUB) -> client: the client's ceiling\n",
            PAYLOAD_MIN);
}

static uint64_t parse_number(const char *name, const char *text, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
        fprintf(stderr, "zmanager-bare-c: --%s: expected a number in %" PRIu64 "...%" PRIu64 ", got \"%s\"\n", name,
                min, max, text);
        usage(stderr);
        exit(2);
    }
    return v;
}

static void parse_options(int argc, char **argv)
{
    static const struct option longs[] = {
        { "transport", required_argument, 0, 't' },  { "deployment", required_argument, 0, 'd' },
        { "workers", required_argument, 0, 'w' },    { "in-flight", required_argument, 0, 'f' },
        { "size", required_argument, 0, 's' },       { "hwm", required_argument, 0, 'H' },
        { "warmup-ms", required_argument, 0, 'W' },  { "measure-ms", required_argument, 0, 'M' },
        { "spin-ns", required_argument, 0, 'S' },    { "stall-every", required_argument, 0, 'E' },
        { "stall-ns", required_argument, 0, 'N' },   { "zero-copy", no_argument, 0, 'z' },
        { "loopback", no_argument, 0, 'L' },         { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 't':
            if (!strcmp(optarg, "inproc"))
                opt.transport = T_INPROC;
            else if (!strcmp(optarg, "ipc"))
                opt.transport = T_IPC;
            else if (!strcmp(optarg, "tcp"))
                opt.transport = T_TCP;
            else
                goto bad;
            break;
        case 'd':
            if (!strcmp(optarg, "threads"))
                opt.processes = 0;
            else if (!strcmp(optarg, "processes"))
                opt.processes = 1;
            else
                goto bad;
            break;
        case 'w': opt.workers = (unsigned)parse_number("workers", optarg, 1, 1024); break;
        case 'f': opt.in_flight = parse_number("in-flight", optarg, 1, 10000000); break;
        case 's': opt.size = parse_number("size", optarg, PAYLOAD_MIN, 256u << 20); break;
        case 'H': opt.hwm = (int)parse_number("hwm", optarg, 0, 1u << 30); break;
        case 'W': opt.warmup_ms = parse_number("warmup-ms", optarg, 0, 3600000); break;
        case 'M': opt.measure_ms = parse_number("measure-ms", optarg, 1, 3600000); break;
        case 'S': opt.spin_ns = parse_number("spin-ns", optarg, 0, 10000000000ull); break;
        case 'E': opt.stall_every = parse_number("stall-every", optarg, 0, UINT64_MAX); break;
        case 'N': opt.stall_ns = parse_number("stall-ns", optarg, 0, 10000000000ull); break;
        case 'z': opt.zero_copy = 1; break;
        case 'L': opt.loopback = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
        continue;
    bad:
        fprintf(stderr, "zmanager-bare-c: bad value \"%s\" for --%s\n", optarg, c == 't' ? "transport" : "deployment");
        usage(stderr);
        exit(2);
    }
    if (optind < argc) {
        fprintf(stderr, "zmanager-bare-c: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        exit(2);
    }
    if (opt.processes && opt.transport == T_INPROC) {
        fputs("zmanager-bare-c: --deployment processes needs --transport ipc or tcp (inproc is one process)\n", stderr);
        usage(stderr);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);

    /* A parent may have started us with signals blocked (a test runner's worker thread
       blocks nearly all): unblock them, so SIGTERM stops us and our stage children. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    int pid = (int)getpid();
    for (int i = 0; i < EP_COUNT; i++) {
        switch (opt.transport) {
        case T_INPROC: snprintf(endpoints[i], EP_MAX, "inproc://zmb-%d-%s", pid, ep_names[i]); break;
        case T_IPC:
            snprintf(endpoints[i], EP_MAX, "ipc:///tmp/zmb-%d-%s.sock", pid, ep_names[i]);
            ipc_paths[i] = endpoints[i] + strlen("ipc://");
            break;
        case T_TCP: snprintf(endpoints[i], EP_MAX, "tcp://127.0.0.1:*"); break;
        }
    }

    /* The workers' work, and their shared stall counter (shared memory across processes). */
    uint64_t *stall_counter = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (stall_counter == MAP_FAILED)
        fail("mmap: %s", strerror(errno));
    zmb_work work = { .rewrite_offset = (int32_t)REWRITE_OFFSET, .rewrite = { 'd', 'o', 'n', 'e' },
                      .spin_ns = opt.spin_ns, .stall_every = opt.stall_every, .stall_ns = opt.stall_ns,
                      .stall_counter = stall_counter };

    void *ctx = NULL;
    struct stage *stages = calloc(2 + opt.workers, sizeof *stages); /* [0] Subject, [1] IM, then workers */
    if (!stages)
        fail("out of memory");

    if (opt.processes) {
        /* Binders first, so their (tcp: OS-chosen) endpoints are known before the workers fork. */
        struct report r;
        if (!opt.loopback) {
            fork_stage(ZMQ_PULL, ZMQ_PUSH, EP_SUBJECT_IN, 1, EP_SUBJECT_OUT, 1, NULL, &r);
            memcpy(connect_to[EP_SUBJECT_IN], r.endpoint[0], EP_MAX);
            memcpy(connect_to[EP_SUBJECT_OUT], r.endpoint[1], EP_MAX);
        }
        fork_stage(ZMQ_PULL, ZMQ_PUB, EP_IM_IN, 1, EP_IM_OUT, 1, NULL, &r);
        memcpy(connect_to[EP_IM_IN], r.endpoint[0], EP_MAX);
        memcpy(connect_to[EP_IM_OUT], r.endpoint[1], EP_MAX);
        for (unsigned i = 0; i < (opt.loopback ? 0 : opt.workers); i++)
            fork_stage(ZMQ_PULL, ZMQ_PUSH, EP_SUBJECT_OUT, 0, EP_IM_IN, 0, &work, NULL);
        ctx = zmq_ctx_new(); /* the client's own, created after every fork */
        if (!ctx)
            fail("zmq_ctx_new: %s", zmq_strerror(errno));
    } else {
        /* One context for all (inproc needs it). Every socket is made and bound or connected
           here, then handed to its thread (pthread_create is the memory barrier libzmq asks for). */
        ctx = zmq_ctx_new();
        if (!ctx)
            fail("zmq_ctx_new: %s", zmq_strerror(errno));
        char resolved[2][EP_MAX];
        const char *what;
        if (!opt.loopback) {
            what = open_stage(ctx, &stages[0], ZMQ_PULL, ZMQ_PUSH, EP_SUBJECT_IN, 1, EP_SUBJECT_OUT, 1, resolved);
            if (what)
                fail("Subject: %s: %s", what, zmq_strerror(errno));
            memcpy(connect_to[EP_SUBJECT_IN], resolved[0], EP_MAX);
            memcpy(connect_to[EP_SUBJECT_OUT], resolved[1], EP_MAX);
        }
        what = open_stage(ctx, &stages[1], ZMQ_PULL, ZMQ_PUB, EP_IM_IN, 1, EP_IM_OUT, 1, resolved);
        if (what)
            fail("Integration Manager: %s: %s", what, zmq_strerror(errno));
        memcpy(connect_to[EP_IM_IN], resolved[0], EP_MAX);
        memcpy(connect_to[EP_IM_OUT], resolved[1], EP_MAX);
        for (unsigned i = 0; i < (opt.loopback ? 0 : opt.workers); i++) {
            stages[2 + i].work = &work;
            what = open_stage(ctx, &stages[2 + i], ZMQ_PULL, ZMQ_PUSH, EP_SUBJECT_OUT, 0, EP_IM_IN, 0, NULL);
            if (what)
                fail("worker %u: %s: %s", i, what, zmq_strerror(errno));
        }
    }

    struct client c = { 0 };
    c.msg_len = HEADER_LEN + opt.size;
    c.push = make_socket(ctx, ZMQ_PUSH, opt.hwm);
    c.sub = make_socket(ctx, ZMQ_SUB, opt.hwm > 100000 ? opt.hwm : 100000);
    int timeout = STALL_TIMEOUT_MS;
    /* Through the forwarder alone nothing rewrites Push into done: the answer is the request. */
    const char *prefix = opt.loopback ? REQUEST_PREFIX : ANSWER_PREFIX;
    if (!c.push || !c.sub || zmq_setsockopt(c.sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) != 0
        || zmq_setsockopt(c.sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout) != 0)
        fail("client sockets: %s", zmq_strerror(errno));
    int entry = opt.loopback ? EP_IM_IN : EP_SUBJECT_IN;
    if (zmq_connect(c.push, connect_to[entry]) != 0)
        fail("client: connect %s: %s", connect_to[entry], zmq_strerror(errno));
    if (zmq_connect(c.sub, connect_to[EP_IM_OUT]) != 0)
        fail("client: connect %s: %s", connect_to[EP_IM_OUT], zmq_strerror(errno));

    /* Untouched pages cost nothing: only the samples taken are ever faulted in. */
    c.samples = malloc(SAMPLE_CAP * sizeof *c.samples);
    if (!c.samples)
        fail("out of memory for %u latency samples", SAMPLE_CAP);
    if (opt.zero_copy) {
        pool_size = opt.in_flight + 256;
        pool = calloc(pool_size, sizeof *pool);
        char *buffers = malloc(pool_size * c.msg_len);
        if (!pool || !buffers)
            fail("out of memory for the zero-copy pool (%zu x %zu bytes)", pool_size, c.msg_len);
        memset(buffers, 0, pool_size * c.msg_len);
        for (size_t i = 0; i < pool_size; i++)
            pool[i].data = buffers + i * c.msg_len;
    }

    /* Stages [first, end): the Integration Manager's alone in loopback. */
    unsigned first = opt.loopback ? 1 : 0, end = opt.loopback ? 2 : 2 + opt.workers;
    if (!opt.processes)
        for (unsigned i = first; i < end; i++)
            if ((errno = pthread_create(&stages[i].thread, NULL, stage_thread, &stages[i])) != 0)
                fail("pthread_create: %s", strerror(errno));

    run_client(&c);

    /* Shutdown: close the client, make every blocked stage see ETERM, join, terminate. */
    zmq_close(c.push);
    zmq_close(c.sub);
    int stage_error = 0;
    if (!opt.processes) {
        zmq_ctx_shutdown(ctx);
        for (unsigned i = first; i < end; i++) {
            pthread_join(stages[i].thread, NULL);
            if (stages[i].error) {
                fprintf(stderr, "zmanager-bare-c: stage %u stopped: %s\n", i, zmq_strerror(stages[i].error));
                stage_error = 1;
            }
        }
    }
    zmq_ctx_term(ctx); /* after this, no pool_free callback can run */
    cleanup();

    ensure_seen(&c, c.seq_m1);
    uint64_t received = 0;
    for (uint64_t s = c.seq_m0; s < c.seq_m1; s++)
        received += (c.seen[s >> 3] >> (s & 7)) & 1;
    uint64_t sent = c.seq_m1 - c.seq_m0;

    qsort(c.samples, c.sample_count, sizeof *c.samples, compare_u64);
    double seconds = (double)(c.t_m1 - c.t_m0) / 1e9;
    printf("{\"transport\":\"%s\",\"deployment\":\"%s\",\"workers\":%u,\"in_flight\":%" PRIu64 ",\"size\":%" PRIu64
           ",\"messages\":%" PRIu64 ",\"seconds\":%.3f,\"msgs_per_sec\":%.0f,\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
           ",\"p999_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"spin_ns\":%" PRIu64
           ",\"zero_copy\":%s,\"loopback\":%s}\n",
           transport_names[opt.transport], opt.processes ? "processes" : "threads", opt.workers, opt.in_flight,
           opt.size, c.messages, seconds, (double)c.messages / seconds, percentile(c.samples, c.sample_count, 0.50),
           percentile(c.samples, c.sample_count, 0.99), percentile(c.samples, c.sample_count, 0.999),
           c.sample_count ? c.samples[c.sample_count - 1] : 0, sent - received, opt.spin_ns,
           opt.zero_copy ? "true" : "false", opt.loopback ? "true" : "false");
    if (c.duplicates || c.malformed)
        fprintf(stderr, "zmanager-bare-c: %" PRIu64 " duplicate and %" PRIu64 " malformed answers\n", c.duplicates,
                c.malformed);
    if (pool_fallbacks)
        fprintf(stderr, "zmanager-bare-c: zero-copy pool empty %" PRIu64 " times (copied instead)\n", pool_fallbacks);
    free(c.samples);
    free(c.seen);
    free(stages);
    return stage_error;
}
