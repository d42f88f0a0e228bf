/* Runs a command and reports the peak resident set size of that process:
 * its stdio is left alone, and a last line on stderr reads
 * `bench_rss: {"peak_rss_kib": N, "exit": E}`; the exit status is the
 * command's.  A small C parent on purpose: a child forked from a large
 * parent (a Python script) would report the parent's pages as its own peak.
 *
 *   bench_rss COMMAND [ARGS...]
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_rss COMMAND [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return 1;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    fprintf(stderr, "bench_rss: {\"peak_rss_kib\": %ld, \"exit\": %d}\n", ru.ru_maxrss, code);
    return code;
}
