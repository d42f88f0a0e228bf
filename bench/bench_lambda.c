/* The Lambda runtime loop's own cost (issue 5: <= 50 µs of CPU per
 * invocation beyond the handler).
 *
 *   bench_lambda RIDEPRED MODEL EVENT_FILE [N] [--reps R] [--cpu C] [--server-cpu C]
 *
 * This process is a minimal Lambda Runtime API on 127.0.0.1: one
 * keep-alive connection, /next answered at once from an event held in
 * memory (request id, deadline 15 minutes ahead, trace id and function ARN
 * headers, as Lambda sends them), /response and /error answered 202 and
 * counted.  It starts `RIDEPRED lambda --max-invocations N` with
 * MODEL_LOCATION=MODEL and TEST_RUN=True, its EMF lines going to a file,
 * and serves it as fast as it asks.
 *
 * Measured per run (the runtime's CPU, never the server's):
 *   - the CPU time of all the runtime's threads (sum of
 *     /proc/PID/task/TID/schedstat, nanoseconds) between the end of the
 *     warm-up (W = N / 10 invocations) and the N-th answer, divided by
 *     N - W; read while the runtime waits for the server, so the window
 *     holds whole invocations;
 *   - the user / system split over the whole run (wait4's rusage, start
 *     and exit included: a ratio, not the figure);
 *   - invocations per second over the same window (wall time).
 * Separately, in this process: the handler (rp_handler_invoke on the same
 * model and event, CPU time per call, best of 3 runs of ~0.5 s).  The loop
 * overhead is the runtime's CPU per invocation minus the handler's.  The
 * median of the HandlerMs field of the EMF lines is printed as a
 * cross-check of the handler figure.
 *
 * --cpu C pins this process and the runtime to core C (default 0; -1: no
 * pinning); --server-cpu C moves the server alone to another core.
 * Prints a line per run on stderr and one JSON line on stdout: best and
 * median over the runs. */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "common/file.h"
#include "common/iov.h"
#include "function/event.h"
#include "ridepred/handler.h"
#include "ridepred/log.h"

#define MAX_REPS 50

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        fprintf(stderr, "bench_lambda: cannot pin to core %d: %s (not pinned)\n", cpu, strerror(errno));
}

/* CPU nanoseconds of every thread of pid (schedstat's first field). */
static uint64_t process_cpu_ns(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[400];
        snprintf(path, sizeof path, "%s/%s/schedstat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        unsigned long long ns = 0;
        if (fscanf(f, "%llu", &ns) == 1)
            sum += ns;
        fclose(f);
    }
    closedir(d);
    return sum;
}

/* ---- the handler, in this process ---------------------------------------------- */

static int handler_us(const char *model, const char *event, size_t len, double *best)
{
    rp_error err;
    rp_model *m = NULL;
    if (rp_model_load(model, NULL, &m, &err) < 0) {
        fprintf(stderr, "bench_lambda: %s\n", err.msg);
        return -1;
    }
    rp_handler *h = rp_handler_new(m, NULL, &err);
    if (!h) {
        fprintf(stderr, "bench_lambda: %s\n", err.msg);
        rp_model_release(m);
        return -1;
    }
    rp_invoke_result res;
    rp_handler_invoke(h, event, len, &res);
    if (res.status != RP_INVOKE_OK || res.failed) {
        fprintf(stderr, "bench_lambda: the event is not fully served by the handler\n");
        rp_handler_free(h);
        rp_model_release(m);
        return -1;
    }
    *best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        long calls = 0;
        double c0 = bench_cpu(), c;
        do {
            for (int i = 0; i < 1000; i++)
                rp_handler_invoke(h, event, len, &res);
            calls += 1000;
            c = bench_cpu();
        } while (c - c0 < 0.5);
        double us = (c - c0) * 1e6 / (double)calls;
        if (us < *best)
            *best = us;
    }
    rp_handler_free(h);
    rp_model_release(m);
    return 0;
}

/* ---- the Runtime API ----------------------------------------------------------- */

typedef struct conn {
    int fd;
    char buf[1 << 16];
    size_t len;
} conn;

/* Reads one request; returns the head length (body follows in c->buf up
 * to head + *body_len), 0 at the end of the connection, -1 on error. */
static ssize_t read_request(conn *c, size_t *body_len)
{
    for (;;) {
        char *e = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (e) {
            size_t head = (size_t)(e - c->buf) + 4;
            size_t cl = 0;
            char *p = memmem(c->buf, head, "Content-Length: ", 16);
            if (p)
                cl = strtoul(p + 16, NULL, 10);
            if (head + cl > sizeof c->buf)
                return -1;
            while (c->len < head + cl) {
                ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
                if (n <= 0)
                    return n < 0 ? -1 : 0;
                c->len += (size_t)n;
            }
            *body_len = cl;
            return (ssize_t)head;
        }
        if (c->len == sizeof c->buf)
            return -1;
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n <= 0)
            return n < 0 ? -1 : 0;
        c->len += (size_t)n;
    }
}

static void consume(conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static int send_all(int fd, struct iovec *iov, int n)
{
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    size_t left = 0;
    for (int i = 0; i < n; i++)
        left += iov[i].iov_len;
    while (left) {
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        left -= (size_t)w;
        rp__iov_advance(&msg, (size_t)w);
    }
    return 0;
}

typedef struct run_result {
    double cpu_us;    /* per invocation, the window */
    double user_frac; /* of the whole run */
    double per_s;
    double emf_handler_us;
    long responses, errors;
} run_result;

static int one_run(const char *bin, const char *model, const char *event, size_t event_len, long n,
                   int server_cpu, run_result *out)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) < 0) {
        perror("bench_lambda: listen");
        return -1;
    }
    char api[32], maxinv[32];
    snprintf(api, sizeof api, "127.0.0.1:%d", ntohs(a.sin_port));
    snprintf(maxinv, sizeof maxinv, "%ld", n);
    char emf_path[] = "/tmp/bench-lambda-emf-XXXXXX";
    int emf = mkstemp(emf_path);
    if (emf < 0) {
        perror("bench_lambda: mkstemp");
        return -1;
    }
    unlink(emf_path);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(emf, STDOUT_FILENO);
        setenv("AWS_LAMBDA_RUNTIME_API", api, 1);
        setenv("MODEL_LOCATION", model, 1);
        setenv("TEST_RUN", "True", 1);
        setenv("RIDEPRED_LOG_LEVEL", "warn", 1);
        setenv("RUN_ID", "bench", 1);
        unsetenv("AWS_LAMBDA_LOG_LEVEL");
        unsetenv("RIDEPRED_METRICS");
        execl(bin, bin, "lambda", "--max-invocations", maxinv, (char *)NULL);
        perror("bench_lambda: exec");
        _exit(127);
    }
    if (server_cpu >= 0)
        pin(server_cpu);
    conn *c = calloc(1, sizeof *c);
    c->fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    close(ls);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    long warm = n / 10, served = 0, responses = 0, errors = 0;
    uint64_t ns0 = 0, ns1 = 0;
    double t0 = 0, t1 = 0;
    char head[1024];
    static const char ok[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                             "Content-Length: 16\r\n\r\n{\"status\": \"OK\"}";
    int rc = 0;
    for (;;) {
        size_t body_len;
        ssize_t h = read_request(c, &body_len);
        if (h <= 0) {
            rc = h < 0 ? -1 : 0;
            break;
        }
        if (!strncmp(c->buf, "GET /2018-06-01/runtime/invocation/next ", 40)) {
            if (served == warm) {
                ns0 = process_cpu_ns(pid);
                t0 = bench_now();
            }
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            unsigned long long deadline =
                (unsigned long long)now.tv_sec * 1000u + (unsigned long long)now.tv_nsec / 1000000u + 900000u;
            int hl = snprintf(
                head, sizeof head,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Lambda-Runtime-Aws-Request-Id: bench-%010ld\r\n"
                "Lambda-Runtime-Deadline-Ms: %llu\r\n"
                "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:ride-duration-prediction\r\n"
                "Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n"
                "Date: Tue, 25 Nov 2025 12:00:00 GMT\r\n"
                "Content-Length: %zu\r\n\r\n",
                served, deadline, event_len);
            served++;
            consume(c, (size_t)h + body_len);
            struct iovec iov[2] = {{head, (size_t)hl}, {(void *)event, event_len}};
            if (send_all(c->fd, iov, 2) < 0) {
                rc = -1;
                break;
            }
        } else if (!strncmp(c->buf, "POST /2018-06-01/runtime/invocation/", 36)) {
            bool is_resp = memmem(c->buf, (size_t)h, "/response HTTP/1.1", 18) != NULL;
            is_resp ? responses++ : errors++;
            if (responses + errors == n) {
                ns1 = process_cpu_ns(pid);
                t1 = bench_now();
            }
            consume(c, (size_t)h + body_len);
            struct iovec iov[1] = {{(void *)ok, sizeof ok - 1}};
            if (send_all(c->fd, iov, 1) < 0) {
                rc = -1;
                break;
            }
        } else {
            fprintf(stderr, "bench_lambda: unexpected request: %.60s\n", c->buf);
            rc = -1;
            break;
        }
    }
    close(c->fd);
    free(c);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_lambda: the runtime failed (status %d)\n", status);
        rc = -1;
    }
    if (server_cpu >= 0)
        pin(-1);
    /* HandlerMs of the EMF lines: the median. */
    size_t el;
    lseek(emf, 0, SEEK_SET);
    FILE *ef = fdopen(emf, "r");
    double *hv = malloc(sizeof *hv * (size_t)n);
    int hn = 0;
    char line[4096];
    while (ef && fgets(line, sizeof line, ef) && hn < n) {
        char *p = strstr(line, "\"HandlerMs\": ");
        if (p)
            hv[hn++] = strtod(p + 13, NULL) * 1000;
    }
    (void)el;
    if (ef)
        fclose(ef);
    else
        close(emf);
    out->emf_handler_us = hn ? median(hv, hn) : 0;
    free(hv);
    if (rc < 0 || responses + errors != n || !ns1 || hn != n) {
        fprintf(stderr, "bench_lambda: incomplete run (%ld responses, %ld errors, %d EMF lines, of %ld)\n",
                responses, errors, hn, n);
        return -1;
    }
    double u = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    double s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    out->cpu_us = (double)(ns1 - ns0) / 1e3 / (double)(n - warm);
    out->user_frac = u + s > 0 ? u / (u + s) : 0;
    out->per_s = (double)(n - warm) / (t1 - t0);
    out->responses = responses;
    out->errors = errors;
    return 0;
}

int main(int argc, char **argv)
{
    const char *pos[4] = {0};
    int npos = 0, reps = 5, cpu = 0, server_cpu = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
            cpu = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--server-cpu") && i + 1 < argc)
            server_cpu = atoi(argv[++i]);
        else if (npos < 4 && argv[i][0] != '-')
            pos[npos++] = argv[i];
        else
            npos = 99;
    }
    if (npos < 3 || npos > 4 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr,
                "usage: bench_lambda RIDEPRED MODEL EVENT_FILE [N] [--reps R (1-%d)] [--cpu C] "
                "[--server-cpu C]\n",
                MAX_REPS);
        return 2;
    }
    long n = npos == 4 ? atol(pos[3]) : 20000;
    if (n < 10) {
        fprintf(stderr, "bench_lambda: N must be at least 10\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rp_log_configure(RP_LOG_ERROR, RP_LOG_TEXT);
    size_t len;
    unsigned char *data;
    rp_error err;
    if (rp__file_read(pos[2], RP_EVENT_MAX_BYTES, &data, &len, &err) != 0) {
        fprintf(stderr, "bench_lambda: %s\n", err.msg);
        return 1;
    }
    const char *event = (const char *)data;
    pin(cpu);
    double hus;
    if (handler_us(pos[1], event, len, &hus) < 0)
        return 1;
    double cpu_us[MAX_REPS], per_s[MAX_REPS], over[MAX_REPS], emf_us[MAX_REPS], user[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        run_result rr;
        if (one_run(pos[0], pos[1], event, len, n, server_cpu, &rr) < 0)
            return 1;
        cpu_us[r] = rr.cpu_us;
        per_s[r] = rr.per_s;
        over[r] = rr.cpu_us - hus;
        emf_us[r] = rr.emf_handler_us;
        user[r] = rr.user_frac;
        fprintf(stderr,
                "bench_lambda: run %d: %.0f invocations/s, runtime CPU %.1f µs/invocation (user %.0f%%), "
                "handler %.1f µs (EMF median %.1f µs): loop %.1f µs\n",
                r + 1, rr.per_s, rr.cpu_us, rr.user_frac * 100, hus, rr.emf_handler_us, over[r]);
    }
    double best_cpu = 1e18, best_rate = 0;
    for (int r = 0; r < reps; r++) {
        if (cpu_us[r] < best_cpu)
            best_cpu = cpu_us[r];
        if (per_s[r] > best_rate)
            best_rate = per_s[r];
    }
    double med_cpu = median(cpu_us, reps), med_rate = median(per_s, reps), med_over = median(over, reps);
    double med_emf = median(emf_us, reps), med_user = median(user, reps);
    printf("{\"what\": \"lambda_loop\", \"invocations\": %ld, \"reps\": %d, \"event_bytes\": %zu, "
           "\"invocations_per_s_best\": %.0f, \"invocations_per_s_median\": %.0f, "
           "\"cpu_us_best\": %.2f, \"cpu_us_median\": %.2f, \"user_fraction_median\": %.2f, "
           "\"handler_us\": %.2f, \"handler_emf_us_median\": %.1f, "
           "\"loop_us_best\": %.2f, \"loop_us_median\": %.2f}\n",
           n, reps, len, best_rate, med_rate, best_cpu, med_cpu, med_user, hus, med_emf, best_cpu - hus,
           med_over);
    free(data);
    return 0;
}
