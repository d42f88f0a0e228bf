/* The Apache Kafka backend (kafka.h, docs/kafka.md): librdkafka loaded on
 * first use, configuration, errors, topics, puts and reads. */
#include "stream/kafka/kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/msk_iam.h"
#include "common/buf.h"
#include "common/dl.h"
#include "common/file.h"
#include "ridepred/log.h"
#include "stream/kafka/kafka_internal.h"

#define RDKAFKA_SONAME "librdkafka.so.1"
#define CONFIG_FILE_MAX ((size_t)1 << 20)
#define ADMIN_TIMEOUT_MS 15000
#define META_TIMEOUT_MS 10000
#define READ_WAIT_MS 500

rp__rdk_api rp__rdk;
static rp__dl_once rdk_lib = RP_DL_ONCE_INIT;

#define SYM(name, field)                                                                                     \
    {                                                                                                        \
        "rd_kafka_" name, offsetof(rp__rdk_api, field)                                                       \
    }

static void rdk_setup(void)
{
    static const char *const sonames[] = {RDKAFKA_SONAME, NULL};
    static const rp__dl_sym syms[] = {
        SYM("version_str", version_str),
        SYM("conf_new", conf_new),
        SYM("conf_set", conf_set),
        SYM("conf_destroy", conf_destroy),
        SYM("conf_dup", conf_dup),
        SYM("conf_set_opaque", conf_set_opaque),
        SYM("conf_set_dr_msg_cb", conf_set_dr_msg_cb),
        SYM("conf_set_rebalance_cb", conf_set_rebalance_cb),
        SYM("conf_set_log_cb", conf_set_log_cb),
        SYM("conf_set_error_cb", conf_set_error_cb),
        SYM("conf_set_oauthbearer_token_refresh_cb", conf_set_oauthbearer_token_refresh_cb),
        SYM("oauthbearer_set_token", oauthbearer_set_token),
        SYM("oauthbearer_set_token_failure", oauthbearer_set_token_failure),
        SYM("conf_enable_sasl_queue", conf_enable_sasl_queue),
        SYM("sasl_background_callbacks_enable", sasl_background_callbacks_enable),
        SYM("new", new_),
        SYM("destroy", destroy),
        SYM("poll", poll),
        SYM("flush", flush),
        SYM("purge", purge),
        SYM("produceva", produceva),
        SYM("err2str", err2str),
        SYM("err2name", err2name),
        SYM("last_error", last_error),
        SYM("error_code", error_code),
        SYM("error_string", error_string),
        SYM("error_is_retriable", error_is_retriable),
        SYM("error_is_fatal", error_is_fatal),
        SYM("error_txn_requires_abort", error_txn_requires_abort),
        SYM("error_destroy", error_destroy),
        SYM("fatal_error", fatal_error),
        SYM("metadata", metadata),
        SYM("metadata_destroy", metadata_destroy),
        SYM("query_watermark_offsets", query_watermark_offsets),
        SYM("offsets_for_times", offsets_for_times),
        SYM("get_watermark_offsets", get_watermark_offsets),
        SYM("topic_partition_list_new", tpl_new),
        SYM("topic_partition_list_add", tpl_add),
        SYM("topic_partition_list_destroy", tpl_destroy),
        SYM("topic_new", topic_new),
        SYM("topic_destroy", topic_destroy),
        SYM("topic_name", topic_name),
        SYM("assign", assign),
        SYM("consumer_poll", consumer_poll),
        SYM("message_destroy", message_destroy),
        SYM("message_timestamp", message_timestamp),
        SYM("poll_set_consumer", poll_set_consumer),
        SYM("subscribe", subscribe),
        SYM("consumer_close", consumer_close),
        SYM("incremental_assign", incremental_assign),
        SYM("incremental_unassign", incremental_unassign),
        SYM("rebalance_protocol", rebalance_protocol),
        SYM("assignment_lost", assignment_lost),
        SYM("queue_get_partition", queue_get_partition),
        SYM("queue_new", queue_new),
        SYM("queue_forward", queue_forward),
        SYM("queue_destroy", queue_destroy),
        SYM("consume_batch_queue", consume_batch_queue),
        SYM("queue_poll", queue_poll),
        SYM("commit", commit),
        SYM("offsets_store", offsets_store),
        SYM("committed", committed),
        SYM("seek", seek),
        SYM("seek_partitions", seek_partitions),
        SYM("consumer_group_metadata", consumer_group_metadata),
        SYM("consumer_group_metadata_destroy", consumer_group_metadata_destroy),
        SYM("init_transactions", init_transactions),
        SYM("begin_transaction", begin_transaction),
        SYM("send_offsets_to_transaction", send_offsets_to_transaction),
        SYM("commit_transaction", commit_transaction),
        SYM("abort_transaction", abort_transaction),
        SYM("AdminOptions_new", admin_options_new),
        SYM("AdminOptions_destroy", admin_options_destroy),
        SYM("AdminOptions_set_request_timeout", admin_options_set_request_timeout),
        SYM("AdminOptions_set_operation_timeout", admin_options_set_operation_timeout),
        SYM("NewTopic_new", new_topic_new),
        SYM("NewTopic_destroy", new_topic_destroy),
        SYM("CreateTopics", create_topics),
        SYM("DeleteTopic_new", delete_topic_new),
        SYM("DeleteTopic_destroy", delete_topic_destroy),
        SYM("DeleteTopics", delete_topics),
        SYM("event_error", event_error),
        SYM("event_error_string", event_error_string),
        SYM("event_destroy", event_destroy),
        SYM("event_CreateTopics_result", event_create_topics_result),
        SYM("event_DeleteTopics_result", event_delete_topics_result),
        SYM("CreateTopics_result_topics", create_topics_result_topics),
        SYM("DeleteTopics_result_topics", delete_topics_result_topics),
        SYM("topic_result_error", topic_result_error),
        SYM("topic_result_error_string", topic_result_error_string),
    };
    rp__dl_once_load(&rdk_lib, "librdkafka", sonames, syms, sizeof syms / sizeof syms[0], &rp__rdk,
                     "librdkafka1 (Debian: apt-get install librdkafka1)");
}

int rp__kafka_load(rp_error *err)
{
    return rp__dl_once_run(&rdk_lib, rdk_setup, err);
}

/* ---- errors --------------------------------------------------------------- */

bool rp__kafka_retriable(rd_kafka_resp_err_t code)
{
    switch (code) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS: return true;
    default: return false;
    }
}

static rp_code code_of(rd_kafka_resp_err_t code)
{
    switch (code) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION: return RP_ERR_NOT_FOUND;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__NOENT: return RP_ERR_NOT_FOUND;
    default: return rp__kafka_retriable(code) ? RP_ERR_IO : RP_ERR_INVALID;
    }
}

int rp__kafka_error(rp_error *err, rd_kafka_resp_err_t code, const char *fmt, ...)
{
    if (!err)
        return -1;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    rp_error_set(err, code_of(code), "%s: %s (%s)", rp__rdk.err2name(code), rp__rdk.err2str(code), what);
    err->retriable = rp__kafka_retriable(code);
    return -1;
}

int rp__kafka_error_obj(rp_error *err, rd_kafka_error_t *e, const char *what)
{
    rd_kafka_resp_err_t code = rp__rdk.error_code(e);
    bool retriable = rp__rdk.error_is_retriable(e) || rp__kafka_retriable(code);
    if (err) {
        rp_error_set(err, code_of(code), "%s: %s (%s)", rp__rdk.err2name(code), rp__rdk.error_string(e),
                     what);
        err->retriable = retriable;
    }
    rp__rdk.error_destroy(e);
    return -1;
}

/* ---- configuration -------------------------------------------------------- */

static int add_pair(rp__kafka_config *c, const char *key, size_t kl, const char *val, size_t vl,
                    rp_error *err)
{
    char **np = realloc(c->pairs, (c->n + 1) * sizeof *np);
    if (!np)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    c->pairs = np;
    char *p = malloc(kl + vl + 2);
    if (!p)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    memcpy(p, key, kl);
    p[kl] = '=';
    memcpy(p + kl + 1, val, vl);
    p[kl + 1 + vl] = '\0';
    c->pairs[c->n++] = p;
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* "KEY=VALUE" (or "KEY: VALUE", as Java properties allow) into c; where
 * names the source for errors. */
static int add_text_pair(rp__kafka_config *c, const char *s, size_t n, const char *where, rp_error *err)
{
    const char *eq = memchr(s, '=', n), *colon = memchr(s, ':', n);
    if (!eq || (colon && colon < eq))
        eq = colon;
    if (!eq)
        return rp_error_set(err, RP_ERR_INVALID, "%s: '%.*s' is not KEY=VALUE", where, (int)(n > 80 ? 80 : n),
                            s);
    const char *k = s, *v = eq + 1;
    size_t kl = (size_t)(eq - s), vl = n - kl - 1;
    trim(&k, &kl);
    trim(&v, &vl);
    if (!kl)
        return rp_error_set(err, RP_ERR_INVALID, "%s: a property without a name", where);
    return add_pair(c, k, kl, v, vl, err);
}

static int load_file(rp__kafka_config *c, const char *path, rp_error *err)
{
    unsigned char *text = NULL;
    size_t len = 0;
    if (rp__file_read(path, CONFIG_FILE_MAX, &text, &len, err) < 0) {
        rp_error_prefix(err, "--kafka-config-file");
        return -1;
    }
    int rc = 0;
    size_t lineno = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        lineno++;
        const char *s = (const char *)text + i;
        size_t n = j - i;
        trim(&s, &n);
        if (n && s[0] != '#' && s[0] != '!') {
            char where[PATH_MAX + 32];
            snprintf(where, sizeof where, "%s:%zu", path, lineno);
            rc = add_text_pair(c, s, n, where, err);
        }
        i = j + 1;
    }
    free(text);
    return rc;
}

int rp__kafka_config_load(const rp_stream_config *cfg, rp__kafka_config *out, rp_error *err)
{
    *out = (rp__kafka_config){0};
    const char *brokers = cfg ? cfg->kafka_brokers : NULL;
    if (brokers && *brokers) {
        if (!(out->brokers = strdup(brokers)) ||
            add_pair(out, "bootstrap.servers", 17, brokers, strlen(brokers), err) < 0)
            goto fail;
    }
    if (cfg && cfg->kafka_config_file && *cfg->kafka_config_file &&
        load_file(out, cfg->kafka_config_file, err) < 0)
        goto fail;
    for (size_t i = 0; cfg && i < cfg->kafka_config_n; i++)
        if (add_text_pair(out, cfg->kafka_config[i], strlen(cfg->kafka_config[i]), "--kafka-config", err) < 0)
            goto fail;
    out->msk_iam = cfg && cfg->kafka_msk_iam;
    if (out->msk_iam && cfg->region && *cfg->region && !(out->region = strdup(cfg->region))) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    bool have_servers = false;
    for (size_t i = 0; i < out->n; i++)
        if (!strncmp(out->pairs[i], "bootstrap.servers=", 18) ||
            !strncmp(out->pairs[i], "metadata.broker.list=", 21))
            have_servers = true;
    if (!have_servers) {
        rp_error_set(err, RP_ERR_INVALID,
                     "no Kafka brokers: give --brokers HOST:PORT,... or set RIDEPRED_KAFKA_BROKERS (or "
                     "bootstrap.servers in --kafka-config)");
        goto fail;
    }
    return 0;
fail:
    rp__kafka_config_free(out);
    return -1;
}

void rp__kafka_config_free(rp__kafka_config *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->pairs[i]);
    free(c->pairs);
    free(c->brokers);
    free(c->region);
    *c = (rp__kafka_config){0};
}

static int set1(rd_kafka_conf_t *conf, const char *pair, rp_error *err)
{
    const char *eq = strchr(pair, '=');
    char key[256], msg[512];
    size_t kl = (size_t)(eq - pair);
    if (kl >= sizeof key)
        return rp_error_set(err, RP_ERR_INVALID, "Kafka property name too long: %.60s...", pair);
    memcpy(key, pair, kl);
    key[kl] = '\0';
    if (rp__rdk.conf_set(conf, key, eq + 1, msg, sizeof msg) != RD_KAFKA_CONF_OK)
        return rp_error_set(err, RP_ERR_INVALID, "Kafka property %s: %s", key, msg);
    return 0;
}

/* librdkafka's log lines, through ridepred's log: warnings and worse as
 * they are, the rest (notices, and the lines its `debug` property turns
 * on) at --log-level debug. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level > 4) {
        if (rp_log_enabled(RP_LOG_DEBUG))
            rp_log(RP_LOG_DEBUG, "librdkafka", "facility", fac, "message", buf, NULL);
        return;
    }
    /* One set of properties serves producers and consumers alike: a
     * consumer's property is expected to be ignored by a producer. */
    if (!strcmp(fac, "CONFWARN") && strstr(buf, "will be ignored by this"))
        return;
    rp_log(level <= 3 ? RP_LOG_ERROR : RP_LOG_WARN, "librdkafka", "facility", fac, "message", buf, NULL);
}

/* librdkafka asks for a token when it connects and again at 80% of the
 * last one's lifetime, on its background thread: a fresh MSK IAM token
 * from the AWS credential chain (src/aws/msk_iam.h).  The region comes in
 * sasl.oauthbearer.config ("region=R", which librdkafka hands to this
 * callback); without it, the chain's region.  A failure is reported to
 * librdkafka, which retries (and logs it). */
static void msk_token_refresh(rd_kafka_t *rk, const char *oauthbearer_config, void *opaque)
{
    (void)opaque;
    char region[64] = "";
    const char *r = oauthbearer_config ? strstr(oauthbearer_config, "region=") : NULL;
    if (r) {
        r += 7;
        size_t n = strcspn(r, " ,;");
        if (n < sizeof region) {
            memcpy(region, r, n);
            region[n] = '\0';
        }
    }
    rp__msk_iam_options o = {.region = region[0] ? region : NULL};
    rp__msk_iam_token t = {0};
    rp_error err;
    if (rp__msk_iam_token_resolve(&o, &t, &err) < 0) {
        rp_log(RP_LOG_ERROR, "cannot make an MSK IAM token; librdkafka will ask again", "error", err.msg,
               NULL);
        rp__rdk.oauthbearer_set_token_failure(rk, err.msg);
        return;
    }
    char msg[512];
    if (rp__rdk.oauthbearer_set_token(rk, t.value, t.expiry_ms, t.principal, NULL, 0, msg, sizeof msg)) {
        rp_log(RP_LOG_ERROR, "librdkafka refused the MSK IAM token", "error", msg, NULL);
        rp__rdk.oauthbearer_set_token_failure(rk, msg);
    } else if (rp_log_enabled(RP_LOG_DEBUG)) {
        char exp[32];
        snprintf(exp, sizeof exp, "%lld", (long long)t.expiry_ms);
        rp_log(RP_LOG_DEBUG, "MSK IAM token made", "principal", t.principal, "expiry_ms", exp, "region",
               region[0] ? region : "(the AWS chain's)", NULL);
    }
    rp__msk_iam_token_clear(&t);
}

rd_kafka_conf_t *rp__kafka_conf(const rp__kafka_config *c, rp__kafka_role role, const char *const *extra,
                                rp_error *err)
{
    rd_kafka_conf_t *conf = rp__rdk.conf_new();
    if (!conf) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    /* ridepred's defaults for the role, which the user's properties may
     * override (they come after) unless the role needs them. */
    /* Nagle's algorithm off, as the Java client and the brokers have it: a
     * put waits for its acknowledgements, and a request held back for the
     * ACK of the one before it costs a delayed ACK (40 ms on Linux). */
    static const char *const common[] = {"client.id=ridepred", "log.connection.close=false",
                                         "socket.nagle.disable=true", NULL};
    /* A put to a topic that does not exist fails, as on Kinesis, instead
     * of creating it (the producer's default; consumers default to false). */
    static const char *const producer[] = {"allow.auto.create.topics=false",
                                           "enable.idempotence=true",
                                           "acks=all",
                                           "partitioner=murmur2_random",
                                           "linger.ms=1",
                                           "message.timeout.ms=10000",
                                           NULL};
    static const char *const reader[] = {"enable.auto.commit=false", "enable.partition.eof=true",
                                         "group.id=ridepred-reader", "fetch.wait.max.ms=100", NULL};
    static const char *const group[] = {"partition.assignment.strategy=cooperative-sticky",
                                        "auto.commit.interval.ms=100", "auto.offset.reset=earliest",
                                        "fetch.wait.max.ms=100", NULL};
    const char *const *lists[] = {common, NULL, NULL};
    switch (role) {
    case RP_KAFKA_PRODUCER:
    case RP_KAFKA_TXN_PRODUCER: lists[1] = producer; break;
    case RP_KAFKA_READER: lists[1] = reader; break;
    case RP_KAFKA_GROUP_CONSUMER: lists[1] = group; break;
    case RP_KAFKA_ADMIN: break;
    }
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; lists[l] && lists[l][i]; i++)
            if (set1(conf, lists[l][i], err) < 0)
                goto fail;
    if (c->msk_iam) {
        /* MSK's IAM listener: TLS and OAUTHBEARER with our tokens (before
         * the user's properties, which may still set ssl.ca.location...). */
        char rc[96];
        snprintf(rc, sizeof rc, "sasl.oauthbearer.config=region=%s", c->region ? c->region : "");
        if (set1(conf, "security.protocol=SASL_SSL", err) < 0 ||
            set1(conf, "sasl.mechanism=OAUTHBEARER", err) < 0 || (c->region && set1(conf, rc, err) < 0))
            goto fail;
        rp__rdk.conf_set_oauthbearer_token_refresh_cb(conf, msk_token_refresh);
        /* Tokens made on librdkafka's background thread: handles that are
         * never polled (admin, reads) get them too. */
        rp__rdk.conf_enable_sasl_queue(conf, 1);
    }
    for (size_t i = 0; i < c->n; i++)
        if (set1(conf, c->pairs[i], err) < 0)
            goto fail;
    for (size_t i = 0; extra && extra[i]; i++)
        if (set1(conf, extra[i], err) < 0)
            goto fail;
    /* What the role needs whatever the user said. */
    if (role == RP_KAFKA_READER && set1(conf, "enable.partition.eof=true", err) < 0)
        goto fail;
    /* A group consumer's offsets: stored by ridepred once a batch is handled
     * (rd_kafka_offsets_store), committed by librdkafka from what was stored
     * (every auto.commit.interval.ms, and as partitions leave in a
     * rebalance), at the group's current generation: a commit of ridepred's
     * own racing a rebalance would be answered ILLEGAL_GENERATION, which
     * librdkafka 2.0 takes for a lost assignment. */
    if (role == RP_KAFKA_GROUP_CONSUMER && (set1(conf, "enable.auto.commit=true", err) < 0 ||
                                            set1(conf, "enable.auto.offset.store=false", err) < 0))
        goto fail;
    rp__rdk.conf_set_log_cb(conf, log_cb);
    return conf;
fail:
    rp__rdk.conf_destroy(conf);
    return NULL;
}

rd_kafka_t *rp__kafka_handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rp_error *err)
{
    char msg[512];
    rd_kafka_t *rk = rp__rdk.new_(type, conf, msg, sizeof msg);
    if (!rk) {
        rp__rdk.conf_destroy(conf);
        rp_error_set(err, RP_ERR_INVALID, "cannot make a Kafka client: %s", msg);
        return NULL;
    }
    /* SASL callbacks (MSK IAM tokens) on the background thread; an error
     * only says the handle has no SASL queue (no MSK IAM). */
    rd_kafka_error_t *e = rp__rdk.sasl_background_callbacks_enable(rk);
    if (e)
        rp__rdk.error_destroy(e);
    return rk;
}

/* ---- the shared producer -------------------------------------------------------- */

/* One producer per configuration per process: every handle with the same
 * properties puts through it (src/stream/kafka/kafka.h).  One thread of its
 * own serves its delivery reports (rd_kafka_poll); a put waits on `done`
 * until the reports of all its messages came, so that no caller polls in
 * turns with the others (which cost each put up to a poll period). */
typedef struct shared_producer {
    struct shared_producer *next;
    char *key; /* the configuration's pairs, joined */
    rd_kafka_t *rk;
    int refs;
    pthread_t poller;
    atomic_bool stop;
    pthread_mutex_t mu; /* with done: a put's last report */
    pthread_cond_t done;
} shared_producer;

static pthread_mutex_t producers_mu = PTHREAD_MUTEX_INITIALIZER;
static shared_producer *producers;

typedef struct put_slot {
    struct rp__kafka_put_call *call;
    size_t i;
} put_slot;

/* What became of one message: librdkafka's error (0: acknowledged), and
 * where it was stored.  16 bytes a message: a full rp_stream_put_result is
 * over 500, and a batch of them was a fresh half megabyte (mmap, page
 * faults) every put. */
typedef struct put_outcome {
    int32_t err;
    int32_t partition;
    int64_t offset;
} put_outcome;

/* One put's state: delivery reports fill `out` and count down `left`;
 * the report that brings it to 0 wakes the waiters (under the producer's
 * mu), the others take no lock. */
struct rp__kafka_put_call {
    shared_producer *p;
    size_t n;
    atomic_size_t left;
    put_outcome *out;
    put_slot *slots;
};

static void outcome_result(const put_outcome *o, rp_stream_put_result *r)
{
    *r = (rp_stream_put_result){.ok = o->err == 0};
    if (o->err) {
        r->too_large = o->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
        snprintf(r->error_code, sizeof r->error_code, "%s", rp__rdk.err2name((rd_kafka_resp_err_t)o->err));
        snprintf(r->error_message, sizeof r->error_message, "%s",
                 rp__rdk.err2str((rd_kafka_resp_err_t)o->err));
        return;
    }
    rp__i64_dec(o->partition, r->shard_id);
    if (o->offset >= 0)
        rp__i64_dec(o->offset, r->sequence_number);
}

void rp__kafka_record(const rd_kafka_message_t *m, const char *shard, char seq[RP_I64_DEC_MAX],
                      rp_stream_record *r)
{
    rp__i64_dec(m->offset, seq);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rp__rdk.message_timestamp(m, &tt);
    *r = (rp_stream_record){.shard_id = shard,
                            .sequence_number = seq,
                            .partition_key = m->key ? m->key : "",
                            .partition_key_len = m->key ? m->key_len : 0,
                            .data = m->payload,
                            .data_len = m->len,
                            .arrival_ms = ts > 0 ? ts : 0};
}

void rp__kafka_delivery_result(const rd_kafka_message_t *m, rp_stream_put_result *r)
{
    put_outcome o = {m->err, m->partition, m->offset};
    outcome_result(&o, r);
}

rd_kafka_resp_err_t rp__kafka_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const rp_stream_entry *e,
                                      void *opaque, rp_stream_put_result *r)
{
    /* No flags: librdkafka points at the value (the key it always copies)
     * until the message's delivery report, so every caller keeps e->data
     * until then; copying it would cost a malloc and a free a message. */
    rd_kafka_vu_t vu[5] = {
        {.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = rkt},
        {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)e->partition_key, e->partition_key_len}},
        {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)e->data, e->data_len}},
        {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = opaque},
        {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = 0},
    };
    for (;;) {
        rd_kafka_error_t *err = rp__rdk.produceva(rk, vu, 5);
        if (!err)
            return 0;
        rd_kafka_resp_err_t code = rp__rdk.error_code(err);
        if (code == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rp__rdk.error_destroy(err);
            rp__rdk.poll(rk, 10); /* the queue drains as deliveries are reported */
            continue;
        }
        if (r) {
            r->ok = false;
            r->too_large = code == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
            snprintf(r->error_code, sizeof r->error_code, "%s", rp__rdk.err2name(code));
            snprintf(r->error_message, sizeof r->error_message, "%s", rp__rdk.error_string(err));
        }
        rp__rdk.error_destroy(err);
        return code ? code : RD_KAFKA_RESP_ERR__FAIL;
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    put_slot *slot = m->_private;
    if (!slot)
        return;
    slot->call->out[slot->i] = (put_outcome){m->err, m->partition, m->offset};
    if (atomic_fetch_sub(&slot->call->left, 1) != 1)
        return;
    shared_producer *p = slot->call->p;
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->done);
    pthread_mutex_unlock(&p->mu);
}

static void *poller_main(void *arg)
{
    shared_producer *p = arg;
    while (!atomic_load(&p->stop))
        rp__rdk.poll(p->rk, 50);
    return NULL;
}

static char *join_pairs(const rp__kafka_config *c)
{
    size_t n = 16;
    for (size_t i = 0; i < c->n; i++)
        n += strlen(c->pairs[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    size_t o = (size_t)snprintf(s, n, "iam=%d\n", c->msk_iam);
    for (size_t i = 0; i < c->n; i++)
        o += (size_t)snprintf(s + o, n - o, "%s\n", c->pairs[i]);
    return s;
}

struct rp__kafka {
    rp__kafka_config cfg;
    shared_producer *producer;
    rd_kafka_t *admin;  /* metadata, watermarks, admin requests (lazily) */
    rd_kafka_t *reader; /* reads (lazily) */
    char read_topic[RP_STREAM_NAME_MAX + 1];
    int32_t read_partition;
    int64_t read_next; /* the offset the reader's assignment continues at; -1: none */
};

int rp__kafka_open(const rp_stream_config *cfg, rp__kafka **out, rp_error *err)
{
    *out = NULL;
    if (rp__kafka_load(err) < 0)
        return -1;
    rp__kafka *k = calloc(1, sizeof *k);
    if (!k)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    k->read_next = -1;
    if (rp__kafka_config_load(cfg, &k->cfg, err) < 0) {
        free(k);
        return -1;
    }
    /* Check every property now: a typo is an error at start, not at the
     * first put. */
    rd_kafka_conf_t *probe = rp__kafka_conf(&k->cfg, RP_KAFKA_PRODUCER, NULL, err);
    if (!probe) {
        rp__kafka_close(k);
        return -1;
    }
    rp__rdk.conf_destroy(probe);
    *out = k;
    return 0;
}

static void producer_release(shared_producer *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&producers_mu);
    bool last = --p->refs == 0;
    if (last) {
        for (shared_producer **pp = &producers; *pp; pp = &(*pp)->next)
            if (*pp == p) {
                *pp = p->next;
                break;
            }
    }
    pthread_mutex_unlock(&producers_mu);
    if (last) {
        atomic_store(&p->stop, true);
        pthread_join(p->poller, NULL);
        rp__rdk.flush(p->rk, 10000);
        rp__rdk.destroy(p->rk);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->done);
        free(p->key);
        free(p);
    }
}

void rp__kafka_close(rp__kafka *k)
{
    if (!k)
        return;
    producer_release(k->producer);
    if (k->reader) {
        rp__rdk.consumer_close(k->reader);
        rp__rdk.destroy(k->reader);
    }
    if (k->admin)
        rp__rdk.destroy(k->admin);
    rp__kafka_config_free(&k->cfg);
    free(k);
}

static int get_producer(rp__kafka *k, rp_error *err)
{
    if (k->producer)
        return 0;
    char *key = join_pairs(&k->cfg);
    if (!key)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&producers_mu);
    shared_producer *p = producers;
    while (p && strcmp(p->key, key) != 0)
        p = p->next;
    if (p) {
        p->refs++;
        free(key);
    } else {
        rd_kafka_conf_t *conf = rp__kafka_conf(&k->cfg, RP_KAFKA_PRODUCER, NULL, err);
        rd_kafka_t *rk = NULL;
        if (conf) {
            rp__rdk.conf_set_dr_msg_cb(conf, dr_cb);
            rk = rp__kafka_handle_new(RD_KAFKA_PRODUCER, conf, err);
        }
        if (rk && !(p = calloc(1, sizeof *p))) {
            rp__rdk.destroy(rk);
            rk = NULL;
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        }
        if (!rk) {
            pthread_mutex_unlock(&producers_mu);
            free(key);
            return -1;
        }
        *p = (shared_producer){.next = producers, .key = key, .rk = rk, .refs = 1};
        atomic_init(&p->stop, false);
        pthread_mutex_init(&p->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->done, &ca);
        pthread_condattr_destroy(&ca);
        if (pthread_create(&p->poller, NULL, poller_main, p) != 0) {
            pthread_mutex_unlock(&producers_mu);
            pthread_mutex_destroy(&p->mu);
            pthread_cond_destroy(&p->done);
            rp__rdk.destroy(rk);
            free(key);
            free(p);
            return rp_error_set(err, RP_ERR_NOMEM, "cannot start the Kafka producer's thread");
        }
        producers = p;
    }
    pthread_mutex_unlock(&producers_mu);
    k->producer = p;
    return 0;
}

static int get_admin(rp__kafka *k, rp_error *err)
{
    if (k->admin)
        return 0;
    rd_kafka_conf_t *conf = rp__kafka_conf(&k->cfg, RP_KAFKA_ADMIN, NULL, err);
    if (!conf)
        return -1;
    k->admin = rp__kafka_handle_new(RD_KAFKA_PRODUCER, conf, err);
    return k->admin ? 0 : -1;
}

/* ---- topics ------------------------------------------------------------------- */

static const struct rd_kafka_metadata_topic *find_topic(const struct rd_kafka_metadata *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic))
            return &md->topics[i];
    return NULL;
}

/* The cluster's metadata for one topic (NULL: all topics). */
static int fetch_metadata(rp__kafka *k, const char *topic, const struct rd_kafka_metadata **md, rp_error *err)
{
    if (get_admin(k, err) < 0)
        return -1;
    rd_kafka_topic_t *rkt = NULL;
    if (topic && !(rkt = rp__rdk.topic_new(k->admin, topic, NULL)))
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    rd_kafka_resp_err_t e = rp__rdk.metadata(k->admin, topic == NULL, rkt, md, META_TIMEOUT_MS);
    if (rkt)
        rp__rdk.topic_destroy(rkt);
    if (e)
        return rp__kafka_error(err, e, "metadata from %s", k->cfg.brokers ? k->cfg.brokers : "the cluster");
    if (topic) {
        const struct rd_kafka_metadata_topic *t = find_topic(*md, topic);
        rd_kafka_resp_err_t te = t ? t->err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (te) {
            rp__rdk.metadata_destroy(*md);
            *md = NULL;
            if (te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                return rp_error_set(
                    err, RP_ERR_NOT_FOUND,
                    "UNKNOWN_TOPIC_OR_PART: topic %s does not exist (create it with `ridepred "
                    "streams create kafka:%s`)",
                    topic, topic);
            return rp__kafka_error(err, te, "topic %s", topic);
        }
    }
    return 0;
}

static void fill_info(rp_stream_info *o, const struct rd_kafka_metadata_topic *t)
{
    *o = (rp_stream_info){0};
    snprintf(o->name, sizeof o->name, "%s", t->topic);
    snprintf(o->status, sizeof o->status, "ACTIVE");
    o->open_shards = (uint32_t)t->partition_cnt;
}

int rp__kafka_describe_topic(rp__kafka *k, const char *topic, rp_stream_info *out, rp_error *err)
{
    const struct rd_kafka_metadata *md;
    if (fetch_metadata(k, topic, &md, err) < 0)
        return -1;
    fill_info(out, find_topic(md, topic));
    rp__rdk.metadata_destroy(md);
    return 0;
}

int rp__kafka_list_topics(rp__kafka *k, rp_stream_info **out, size_t *count, rp_error *err)
{
    *out = NULL;
    *count = 0;
    const struct rd_kafka_metadata *md;
    if (fetch_metadata(k, NULL, &md, err) < 0)
        return -1;
    rp_stream_info *v = calloc(md->topic_cnt ? (size_t)md->topic_cnt : 1, sizeof *v);
    if (!v) {
        rp__rdk.metadata_destroy(md);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        /* The cluster's own topics (__consumer_offsets, __transaction_state). */
        if (t->err || !strncmp(t->topic, "__", 2) || strlen(t->topic) > RP_STREAM_NAME_MAX)
            continue;
        fill_info(&v[n++], t);
    }
    rp__rdk.metadata_destroy(md);
    /* In name order, as Kinesis lists streams. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1].name, v[j].name) > 0; j--) {
            rp_stream_info t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    *count = n;
    return 0;
}

int rp__kafka_list_partitions(rp__kafka *k, const char *topic, rp_stream_shard **out, size_t *count,
                              rp_error *err)
{
    *out = NULL;
    *count = 0;
    const struct rd_kafka_metadata *md;
    if (fetch_metadata(k, topic, &md, err) < 0)
        return -1;
    const struct rd_kafka_metadata_topic *t = find_topic(md, topic);
    size_t n = (size_t)t->partition_cnt;
    rp_stream_shard *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        rp__rdk.metadata_destroy(md);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        snprintf(v[i].shard_id, sizeof v[i].shard_id, "%" PRId32, t->partitions[i].id);
    rp__rdk.metadata_destroy(md);
    /* Partition order (the metadata's order is the broker's). */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && atoi(v[j - 1].shard_id) > atoi(v[j].shard_id); j--) {
            rp_stream_shard t2 = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t2;
        }
    *out = v;
    *count = n;
    return 0;
}

/* One admin request (CreateTopics or DeleteTopics) for one topic: its
 * options, the call, and its result event. */
static int admin_call(rp__kafka *k, bool create, const char *topic, rd_kafka_NewTopic_t *nt, rp_error *err)
{
    char msg[512];
    rd_kafka_DeleteTopic_t *dt = create ? NULL : rp__rdk.delete_topic_new(topic);
    rd_kafka_queue_t *q = rp__rdk.queue_new(k->admin);
    rd_kafka_AdminOptions_t *o = rp__rdk.admin_options_new(k->admin, create ? RD_KAFKA_ADMIN_OP_CREATETOPICS
                                                                            : RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rp__rdk.admin_options_set_request_timeout(o, ADMIN_TIMEOUT_MS, msg, sizeof msg);
    rp__rdk.admin_options_set_operation_timeout(o, ADMIN_TIMEOUT_MS, msg, sizeof msg);
    if (create)
        rp__rdk.create_topics(k->admin, &nt, 1, o, q);
    else
        rp__rdk.delete_topics(k->admin, &dt, 1, o, q);
    int rc = 0;
    rd_kafka_event_t *ev = rp__rdk.queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    rd_kafka_resp_err_t e = ev ? rp__rdk.event_error(ev) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!ev) {
        rc = rp_error_set(err, RP_ERR_IO, "the cluster did not answer the %s request for %s in time",
                          create ? "CreateTopics" : "DeleteTopics", topic);
    } else if (e) {
        rc = rp__kafka_error(err, e, "%s %s: %s", create ? "creating topic" : "deleting topic", topic,
                             rp__rdk.event_error_string(ev));
        if (e == RD_KAFKA_RESP_ERR__TIMED_OUT)
            rp_error_prefix(err,
                            "the cluster has no controller that answered (a cluster that cannot %s "
                            "topics, such as librdkafka's mock cluster, or one that is down)",
                            create ? "create" : "delete");
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            create ? rp__rdk.create_topics_result_topics(rp__rdk.event_create_topics_result(ev), &n)
                   : rp__rdk.delete_topics_result_topics(rp__rdk.event_delete_topics_result(ev), &n);
        for (size_t i = 0; i < n && rc == 0; i++) {
            rd_kafka_resp_err_t te = rp__rdk.topic_result_error(tr[i]);
            const char *m = rp__rdk.topic_result_error_string(tr[i]);
            if (te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                rc =
                    rp_error_set(err, RP_ERR_INVALID, "TOPIC_ALREADY_EXISTS: topic %s already exists", topic);
            else if (te)
                rc = rp__kafka_error(err, te, "topic %s: %s", topic, m ? m : "");
        }
    }
    if (ev)
        rp__rdk.event_destroy(ev);
    rp__rdk.admin_options_destroy(o);
    if (dt)
        rp__rdk.delete_topic_destroy(dt);
    rp__rdk.queue_destroy(q);
    return rc;
}

int rp__kafka_create_topic(rp__kafka *k, const char *topic, uint32_t partitions, int replication_factor,
                           rp_error *err)
{
    if (partitions < 1 || partitions > 100000)
        return rp_error_set(err, RP_ERR_INVALID, "a topic needs 1 to 100000 partitions, not %u", partitions);
    if (get_admin(k, err) < 0)
        return -1;
    char msg[512];
    rd_kafka_NewTopic_t *nt =
        rp__rdk.new_topic_new(topic, (int)partitions, replication_factor, msg, sizeof msg);
    if (!nt)
        return rp_error_set(err, RP_ERR_INVALID, "topic %s: %s", topic, msg);
    int rc = admin_call(k, true, topic, nt, err);
    rp__rdk.new_topic_destroy(nt);
    return rc;
}

int rp__kafka_delete_topic(rp__kafka *k, const char *topic, rp_error *err)
{
    if (get_admin(k, err) < 0)
        return -1;
    return admin_call(k, false, topic, NULL, err);
}

/* ---- puts --------------------------------------------------------------------- */

int rp__kafka_put_start(rp__kafka *k, const char *topic, const rp_stream_entry *entries, size_t n,
                        rp__kafka_put_call **out, rp_error *err)
{
    *out = NULL;
    if (get_producer(k, err) < 0)
        return -1;
    rp__kafka_put_call *call = calloc(1, sizeof *call);
    if (call) {
        call->out = malloc((n ? n : 1) * sizeof *call->out);
        call->slots = malloc((n ? n : 1) * sizeof *call->slots);
    }
    if (!call || !call->out || !call->slots) {
        if (call) {
            free(call->out);
            free(call->slots);
        }
        free(call);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    shared_producer *p = k->producer;
    rd_kafka_topic_t *rkt = n ? rp__rdk.topic_new(p->rk, topic, NULL) : NULL;
    if (n && !rkt) {
        rp__kafka_error(err, rp__rdk.last_error(), "topic %s", topic);
        free(call->out);
        free(call->slots);
        free(call);
        return -1;
    }
    call->p = p;
    call->n = n;
    atomic_init(&call->left, n);
    size_t refused = 0;
    for (size_t i = 0; i < n; i++) {
        call->slots[i] = (put_slot){call, i};
        rd_kafka_resp_err_t e = rp__kafka_produce(p->rk, rkt, &entries[i], &call->slots[i], NULL);
        if (e) {
            call->out[i] = (put_outcome){e, -1, -1};
            refused++;
        }
    }
    if (rkt)
        rp__rdk.topic_destroy(rkt); /* the queued messages hold their own references */
    /* Refused messages get no report; the caller is the only waiter. */
    atomic_fetch_sub(&call->left, refused);
    *out = call;
    return 0;
}

int rp__kafka_put_wait(rp__kafka_put_call *call, int timeout_ms)
{
    if (atomic_load(&call->left) == 0)
        return 1;
    if (timeout_ms == 0)
        return 0;
    shared_producer *p = call->p;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (timeout_ms > 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    /* librdkafka reports each message once, within message.timeout.ms; the
     * poller thread serves the reports. */
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&call->left) > 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&p->done, &p->mu);
        else if (pthread_cond_timedwait(&p->done, &p->mu, &until) == ETIMEDOUT)
            break;
    }
    int done = atomic_load(&call->left) == 0;
    pthread_mutex_unlock(&p->mu);
    return done;
}

void rp__kafka_put_result(const rp__kafka_put_call *call, size_t i, rp_stream_put_result *r)
{
    outcome_result(&call->out[i], r);
}

size_t rp__kafka_put_failures(const rp__kafka_put_call *call, size_t *first)
{
    size_t bad = 0;
    for (size_t i = call->n; i-- > 0;)
        if (call->out[i].err) {
            bad++;
            *first = i;
        }
    return bad;
}

void rp__kafka_put_free(rp__kafka_put_call *call)
{
    if (!call)
        return;
    rp__kafka_put_wait(call, -1);
    free(call->out);
    free(call->slots);
    free(call);
}

void rp__kafka_purge(rp__kafka *k)
{
    if (k && k->producer)
        rp__rdk.purge(k->producer->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

int rp__kafka_put(rp__kafka *k, const char *topic, const rp_stream_entry *entries, size_t n,
                  rp_stream_put_result *results, rp_error *err)
{
    for (size_t i = 0; i < n; i++)
        results[i] = (rp_stream_put_result){0};
    if (!n)
        return 0;
    rp__kafka_put_call *call;
    if (rp__kafka_put_start(k, topic, entries, n, &call, err) < 0) {
        for (size_t i = 0; i < n; i++) {
            snprintf(results[i].error_code, sizeof results[i].error_code, "NotAttempted");
            snprintf(results[i].error_message, sizeof results[i].error_message, "%.200s",
                     err ? err->msg : "");
        }
        return -1;
    }
    rp__kafka_put_wait(call, -1);
    for (size_t i = 0; i < n; i++)
        outcome_result(&call->out[i], &results[i]);
    rp__kafka_put_free(call);
    return 0;
}

/* ---- reads -------------------------------------------------------------------- */

static int parse_partition(const char *s, int32_t *out, rp_error *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > INT32_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "Kafka partition '%s' is not a partition number", s);
    *out = (int32_t)v;
    return 0;
}

static int parse_offset(const char *s, int64_t *out, rp_error *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0)
        return rp_error_set(err, RP_ERR_INVALID, "Kafka offset '%s' is not an offset", s);
    *out = v;
    return 0;
}

int rp__kafka_get_iterator(rp__kafka *k, const char *topic, const char *partition, rp_stream_iterator type,
                           const char *offset, int64_t timestamp_ms, char iter[RP_STREAM_ITER_MAX],
                           rp_error *err)
{
    int32_t p = 0;
    if (parse_partition(partition, &p, err) < 0 || get_admin(k, err) < 0)
        return -1;
    int64_t lo = 0, hi = 0, at = 0;
    rd_kafka_resp_err_t e = rp__rdk.query_watermark_offsets(k->admin, topic, p, &lo, &hi, META_TIMEOUT_MS);
    if (e)
        return rp__kafka_error(err, e, "offsets of %s partition %" PRId32, topic, p);
    switch (type) {
    case RP_STREAM_TRIM_HORIZON: at = lo; break;
    case RP_STREAM_LATEST: at = hi; break;
    case RP_STREAM_AT_SEQUENCE_NUMBER:
    case RP_STREAM_AFTER_SEQUENCE_NUMBER:
        if (!offset || parse_offset(offset, &at, err) < 0)
            return offset ? -1 : rp_error_set(err, RP_ERR_INVALID, "no offset given");
        at += type == RP_STREAM_AFTER_SEQUENCE_NUMBER;
        if (at < lo)
            at = lo; /* deleted by retention: the oldest still there */
        break;
    case RP_STREAM_AT_TIMESTAMP: {
        rd_kafka_topic_partition_list_t *l = rp__rdk.tpl_new(1);
        rp__rdk.tpl_add(l, topic, p)->offset = timestamp_ms;
        e = rp__rdk.offsets_for_times(k->admin, l, META_TIMEOUT_MS);
        if (!e)
            e = l->elems[0].err;
        at = l->elems[0].offset;
        rp__rdk.tpl_destroy(l);
        if (e)
            return rp__kafka_error(err, e, "offsets for a time in %s partition %" PRId32, topic, p);
        if (at < 0)
            at = hi; /* nothing at or after that time yet */
        break;
    }
    default: return rp_error_set(err, RP_ERR_INVALID, "unknown iterator type");
    }
    snprintf(iter, RP_STREAM_ITER_MAX, "%" PRId64 "/%" PRId32 "/%s", at, p, topic);
    return 0;
}

static int parse_iter(const char *iter, int64_t *offset, int32_t *partition, const char **topic,
                      rp_error *err)
{
    char *end;
    errno = 0;
    long long off = strtoll(iter, &end, 10);
    if (end == iter || *end != '/' || off < 0 || errno)
        goto bad;
    long p = strtol(end + 1, &end, 10);
    if (*end != '/' || p < 0 || p > INT32_MAX || !end[1])
        goto bad;
    *offset = off;
    *partition = (int32_t)p;
    *topic = end + 1;
    return 0;
bad:
    return rp_error_set(err, RP_ERR_INVALID, "not a Kafka iterator: '%.60s'", iter);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rp__kafka_get_records(rp__kafka *k, const char *iter, uint32_t limit, rp_stream_record_fn cb, void *ctx,
                          char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest, rp_error *err)
{
    int64_t offset = 0;
    int32_t partition = 0;
    const char *topic = "";
    if (parse_iter(iter, &offset, &partition, &topic, err) < 0)
        return -1;
    if (strlen(topic) > RP_STREAM_NAME_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "not a Kafka iterator: topic name too long");
    if (!k->reader) {
        rd_kafka_conf_t *conf = rp__kafka_conf(&k->cfg, RP_KAFKA_READER, NULL, err);
        if (!conf || !(k->reader = rp__kafka_handle_new(RD_KAFKA_CONSUMER, conf, err)))
            return -1;
        rp__rdk.poll_set_consumer(k->reader);
    }
    /* A read that continues where the last one stopped keeps the
     * assignment and what librdkafka already fetched. */
    if (k->read_next != offset || k->read_partition != partition || strcmp(k->read_topic, topic) != 0) {
        rd_kafka_topic_partition_list_t *l = rp__rdk.tpl_new(1);
        rp__rdk.tpl_add(l, topic, partition)->offset = offset;
        rd_kafka_resp_err_t e = rp__rdk.assign(k->reader, l);
        rp__rdk.tpl_destroy(l);
        if (e)
            return rp__kafka_error(err, e, "reading %s partition %" PRId32, topic, partition);
        snprintf(k->read_topic, sizeof k->read_topic, "%s", topic);
        k->read_partition = partition;
    }
    k->read_next = -1;
    int64_t next = offset, last_ts = 0;
    bool eof = false;
    uint32_t got = 0;
    char seq[RP_I64_DEC_MAX], shard[16];
    snprintf(shard, sizeof shard, "%" PRId32, partition);
    int rc = 0;
    while (got < limit && !eof) {
        rd_kafka_message_t *m = rp__rdk.consumer_poll(k->reader, got ? 0 : READ_WAIT_MS);
        if (!m)
            break;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof = true;
            next = m->offset;
        } else if (m->err) {
            rd_kafka_resp_err_t e = m->err;
            rp__rdk.message_destroy(m);
            if (rp__kafka_retriable(e) && got)
                break; /* what was read is good; the next read meets the error */
            rp__kafka_error(err, e, "reading %s partition %" PRId32, topic, partition);
            k->read_topic[0] = '\0';
            return -1;
        } else if (m->partition == partition && m->offset >= next) {
            rp_stream_record r;
            rp__kafka_record(m, shard, seq, &r);
            last_ts = r.arrival_ms;
            next = m->offset + 1;
            got++;
            if (cb(ctx, &r) != 0) {
                rp__rdk.message_destroy(m);
                rc = 0;
                k->read_topic[0] = '\0'; /* the reader is past the callback's record: assign again */
                goto done;
            }
        }
        rp__rdk.message_destroy(m);
    }
    k->read_next = next;
done:
    snprintf(next_iter, RP_STREAM_ITER_MAX, "%" PRId64 "/%" PRId32 "/%s", next, partition, topic);
    if (millis_behind_latest)
        *millis_behind_latest =
            eof || !got ? 0 : (last_ts ? (now_ms() - last_ts > 0 ? now_ms() - last_ts : 1) : 1);
    if (!eof && !got && millis_behind_latest) {
        /* Nothing came within the wait: behind only if the partition holds more. */
        int64_t lo = 0, hi = 0;
        if (!rp__rdk.query_watermark_offsets(k->reader, topic, partition, &lo, &hi, 1000) && hi > next)
            *millis_behind_latest = 1;
    }
    return rc;
}
