/* A minimal unit-test harness: each tests/unit/test_*.c is one executable run
 * by CTest.  CHECK records a failure and goes on; the run exits non-zero when
 * any check failed, and prints "N passed, N failed". */
#ifndef RP_TESTING_H
#define RP_TESTING_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rp_t_checks, rp_t_failed;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        rp_t_checks++;                                                                                       \
        if (!(cond)) {                                                                                       \
            rp_t_failed++;                                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                         \
        }                                                                                                    \
    } while (0)

#define CHECK_STR(got, want)                                                                                 \
    do {                                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                                \
        rp_t_checks++;                                                                                       \
        if (!g_ || strcmp(g_, w_) != 0) {                                                                    \
            rp_t_failed++;                                                                                   \
            fprintf(stderr, "%s:%d: got  %s\n%*s want %s\n", __FILE__, __LINE__, g_ ? g_ : "(null)",         \
                    (int)strlen(__FILE__) + 6, "", w_);                                                      \
        }                                                                                                    \
    } while (0)

#define CHECK_MEM(got, glen, want)                                                                           \
    do {                                                                                                     \
        const char *w_ = (want);                                                                             \
        size_t gl_ = (glen);                                                                                 \
        rp_t_checks++;                                                                                       \
        if (gl_ != strlen(w_) || memcmp((got), w_, gl_) != 0) {                                              \
            rp_t_failed++;                                                                                   \
            fprintf(stderr, "%s:%d: got  %.*s\n%*s want %s\n", __FILE__, __LINE__, (int)gl_,                 \
                    (const char *)(got), (int)strlen(__FILE__) + 6, "", w_);                                 \
        }                                                                                                    \
    } while (0)

#define TEST(name) static void name(void)
#define RUN(name)                                                                                            \
    do {                                                                                                     \
        int before_ = rp_t_failed;                                                                           \
        name();                                                                                              \
        fprintf(stderr, "%s %s\n", rp_t_failed == before_ ? "ok  " : "FAIL", #name);                         \
    } while (0)

/* A fresh directory $TMPDIR/<tag>.XXXXXX (TMPDIR else /tmp) in buf; exits
 * the test (code 2) when it cannot be made. */
static inline void rp_t_tmpdir(char *buf, size_t cap, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/%s.XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Removes path and, for a directory, everything below it (symbolic links
 * are removed, never followed).  Returns 0 when all of it is gone. */
static inline int rp_t_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    int rc = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[4096];
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub || rp_t_rmtree(sub) != 0)
            rc = -1;
    }
    if (d)
        closedir(d);
    return rmdir(path) == 0 ? rc : -1;
}

/* Ends the run as failed (exit 1) when it is still going after `seconds`:
 * for tests of what used to hang (a FIFO opened as a file), so that a
 * regression fails instead of blocking the suite. */
static inline void rp_t_watchdog_fire(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: the watchdog fired: a test hung\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static inline void rp_t_watchdog(unsigned seconds)
{
    signal(SIGALRM, rp_t_watchdog_fire);
    alarm(seconds);
}

static inline int rp_t_done(void)
{
    printf("%d passed, %d failed\n", rp_t_checks - rp_t_failed, rp_t_failed);
    return rp_t_failed ? 1 : 0;
}

#endif
