/* A Kafka cluster on 127.0.0.1 for the tests: librdkafka's own mock cluster
 * (rdkafka_mock.h), which serves produce, fetch, consumer groups, offset
 * commits and transactions (docs/testing.md says what it lacks: topic
 * creation and deletion through the admin API).
 *
 * usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints the bootstrap list ("127.0.0.1:P1,127.0.0.1:P2,...") on a line of
 * its own once the cluster listens, then reads commands on stdin, one per
 * line, answering "ok" or "error: ..." on stdout:
 *   topic NAME PARTITIONS     create a topic (replication factor: min(3, N))
 *   down BROKER_ID            take a broker down (connections refused)
 *   up BROKER_ID              bring it back
 *   rtt BROKER_ID MS          add latency to a broker
 * It stops at end of input (the test closed the pipe or died) or on
 * SIGTERM/SIGINT. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

static int usage(void)
{
    fprintf(stderr, "usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...\n"
                    "Starts librdkafka's mock cluster on 127.0.0.1, prints its bootstrap list, then\n"
                    "takes commands on stdin: topic NAME PARTITIONS | down ID | up ID | rtt ID MS\n");
    return 2;
}

static int make_topic(rd_kafka_mock_cluster_t *m, const char *name, int partitions, int brokers)
{
    int rf = brokers < 3 ? brokers : 3;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(m, name, partitions, rf);
    if (e) {
        printf("error: %s\n", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* Turns Nagle's algorithm off on the cluster's listening sockets (the
 * connections they accept inherit it, on Linux).  A Kafka broker does so
 * itself (its SocketServer sets TCP_NODELAY on every connection); the mock
 * cluster does not, and then the second of two small responses on one
 * connection waits for the client's delayed ACK: 40 ms per produce round
 * trip whenever a producer has two requests in flight to one broker, which
 * no real cluster would show.  Returns how many sockets it changed. */
static int nodelay_listeners(void)
{
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536, n = 0;
    for (int fd = 3; fd < max; fd++) {
        int listening = 0, domain = 0, one = 1;
        socklen_t l = sizeof listening, dl = sizeof domain;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) != 0 || !listening ||
            getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) != 0 ||
            (domain != AF_INET && domain != AF_INET6))
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
            n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    int brokers = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--topic") && i + 1 < argc)
            i++;
        else
            return usage();
    }
    if (brokers < 1 || brokers > 16)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster; it must not talk to anything. */
    rd_kafka_conf_set(conf, "bootstrap.servers", "", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *m = rd_kafka_mock_cluster_new(rk, brokers);
    if (!m) {
        fprintf(stderr, "kafka_mock: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") != 0)
            continue;
        const char *spec = argv[++i];
        const char *colon = strrchr(spec, ':');
        char name[256];
        int parts = colon ? atoi(colon + 1) : 0;
        size_t nl = colon ? (size_t)(colon - spec) : 0;
        if (!colon || parts < 1 || nl == 0 || nl >= sizeof name) {
            fprintf(stderr, "kafka_mock: --topic wants NAME:PARTITIONS, not '%s'\n", spec);
            rc = 2;
            goto out;
        }
        memcpy(name, spec, nl);
        name[nl] = '\0';
        if (make_topic(m, name, parts, brokers) < 0) {
            rc = 1;
            goto out;
        }
    }
    if (nodelay_listeners() < brokers) {
        fprintf(stderr, "kafka_mock: cannot turn Nagle's algorithm off on the brokers' sockets\n");
        rc = 1;
        goto out;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(m));
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32], arg1[256];
        long a2 = 0;
        int n = sscanf(line, "%31s %255s %ld", cmd, arg1, &a2);
        if (n < 1)
            continue;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (!strcmp(cmd, "topic") && n == 3) {
            if (make_topic(m, arg1, (int)a2, brokers) < 0)
                continue;
        } else if (!strcmp(cmd, "down") && n >= 2) {
            e = rd_kafka_mock_broker_set_down(m, (int32_t)atoi(arg1));
        } else if (!strcmp(cmd, "up") && n >= 2) {
            e = rd_kafka_mock_broker_set_up(m, (int32_t)atoi(arg1));
        } else if (!strcmp(cmd, "rtt") && n == 3) {
            e = rd_kafka_mock_broker_set_rtt(m, (int32_t)atoi(arg1), (int)a2);
        } else {
            printf("error: unknown command: %s", line);
            continue;
        }
        if (e)
            printf("error: %s\n", rd_kafka_err2str(e));
        else
            printf("ok\n");
    }
out:
    rd_kafka_mock_cluster_destroy(m);
    rd_kafka_destroy(rk);
    return rc;
}
