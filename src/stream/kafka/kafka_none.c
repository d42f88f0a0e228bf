/* The Kafka backend of a ridepred built without librdkafka's headers
 * (CMake found no `rdkafka` pkg-config module, or -DRIDEPRED_KAFKA=OFF):
 * the same functions, each refusing with one message, so that the rest of
 * the program builds and runs as usual and a kafka: stream says what is
 * missing.  The container image is built this way (Amazon Linux 2023 has no
 * librdkafka package; docs/deploy.md): its Lambda function still answers
 * Lambda's Kafka events, which need no Kafka client. */
#include "stream/kafka/kafka.h"
#include "stream/kafka/kafka_group.h"

static int none(rp_error *err)
{
    return rp_error_set(err, RP_ERR_UNSUPPORTED,
                        "this ridepred was built without Kafka support (librdkafka's headers were missing: "
                        "install librdkafka-dev and build again); kafka: streams are not available");
}

int rp__kafka_load(rp_error *err)
{
    return none(err);
}

int rp__kafka_open(const rp_stream_config *cfg, rp__kafka **out, rp_error *err)
{
    (void)cfg;
    *out = NULL;
    return none(err);
}

void rp__kafka_close(rp__kafka *k)
{
    (void)k;
}

int rp__kafka_create_topic(rp__kafka *k, const char *topic, uint32_t partitions, int replication_factor,
                           rp_error *err)
{
    (void)k, (void)topic, (void)partitions, (void)replication_factor;
    return none(err);
}

int rp__kafka_delete_topic(rp__kafka *k, const char *topic, rp_error *err)
{
    (void)k, (void)topic;
    return none(err);
}

int rp__kafka_list_topics(rp__kafka *k, rp_stream_info **out, size_t *count, rp_error *err)
{
    (void)k;
    *out = NULL;
    *count = 0;
    return none(err);
}

int rp__kafka_describe_topic(rp__kafka *k, const char *topic, rp_stream_info *out, rp_error *err)
{
    (void)k, (void)topic, (void)out;
    return none(err);
}

int rp__kafka_list_partitions(rp__kafka *k, const char *topic, rp_stream_shard **out, size_t *count,
                              rp_error *err)
{
    (void)k, (void)topic;
    *out = NULL;
    *count = 0;
    return none(err);
}

int rp__kafka_put_start(rp__kafka *k, const char *topic, const rp_stream_entry *entries, size_t n,
                        rp__kafka_put_call **out, rp_error *err)
{
    (void)k, (void)topic, (void)entries, (void)n;
    *out = NULL;
    return none(err);
}

int rp__kafka_put_wait(rp__kafka_put_call *call, int timeout_ms)
{
    (void)call, (void)timeout_ms;
    return 1;
}

void rp__kafka_put_result(const rp__kafka_put_call *call, size_t i, rp_stream_put_result *r)
{
    (void)call, (void)i;
    *r = (rp_stream_put_result){.ok = false, .error_code = "NotAttempted"};
}

size_t rp__kafka_put_failures(const rp__kafka_put_call *call, size_t *first)
{
    (void)call;
    *first = 0;
    return 0;
}

void rp__kafka_put_free(rp__kafka_put_call *call)
{
    (void)call;
}

void rp__kafka_purge(rp__kafka *k)
{
    (void)k;
}

int rp__kafka_put(rp__kafka *k, const char *topic, const rp_stream_entry *entries, size_t n,
                  rp_stream_put_result *results, rp_error *err)
{
    (void)k, (void)topic, (void)entries;
    for (size_t i = 0; i < n; i++)
        results[i] = (rp_stream_put_result){.ok = false, .error_code = "NotAttempted"};
    return none(err);
}

int rp__kafka_get_iterator(rp__kafka *k, const char *topic, const char *partition, rp_stream_iterator type,
                           const char *offset, int64_t timestamp_ms, char iter[RP_STREAM_ITER_MAX],
                           rp_error *err)
{
    (void)k, (void)topic, (void)partition, (void)type, (void)offset, (void)timestamp_ms;
    iter[0] = '\0';
    return none(err);
}

int rp__kafka_get_records(rp__kafka *k, const char *iter, uint32_t limit, rp_stream_record_fn cb, void *ctx,
                          char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest, rp_error *err)
{
    (void)k, (void)iter, (void)limit, (void)cb, (void)ctx, (void)millis_behind_latest;
    next_iter[0] = '\0';
    return none(err);
}

int rp__kafka_group_open(const rp__kafka_group_config *cfg, const rp__kafka_group_events *ev,
                         rp__kafka_group **out, rp_error *err)
{
    (void)cfg, (void)ev;
    *out = NULL;
    return none(err);
}

int rp__kafka_group_poll(rp__kafka_group *g, int timeout_ms, rp_error *err)
{
    (void)g, (void)timeout_ms;
    return none(err);
}

int rp__kafka_group_read(rp__kafka_group *g, int32_t partition, uint32_t limit, size_t max_bytes,
                         int timeout_ms, rp_stream_record_fn cb, void *ctx, int64_t *lag_ms, rp_error *err)
{
    (void)g, (void)partition, (void)limit, (void)max_bytes, (void)timeout_ms, (void)cb, (void)ctx,
        (void)lag_ms;
    return none(err);
}

int rp__kafka_group_commit(rp__kafka_group *g, int32_t partition, const char *offset, rp_error *err)
{
    (void)g, (void)partition, (void)offset;
    return none(err);
}

int rp__kafka_group_rewind(rp__kafka_group *g, int32_t partition, rp_error *err)
{
    (void)g, (void)partition;
    return none(err);
}

void rp__kafka_group_close(rp__kafka_group *g)
{
    (void)g;
}

int rp__kafka_txn_open(rp__kafka_group *g, int32_t partition, rp__kafka_txn **out, rp_error *err)
{
    (void)g, (void)partition;
    *out = NULL;
    return none(err);
}

int rp__kafka_txn_put(rp__kafka_txn *t, const char *topic, const rp_stream_entry *entries, size_t n,
                      rp_stream_put_result *results, rp_error *err)
{
    (void)t, (void)topic, (void)entries, (void)n, (void)results;
    return none(err);
}

int rp__kafka_txn_commit(rp__kafka_txn *t, const char *offset, rp_error *err)
{
    (void)t, (void)offset;
    return none(err);
}

void rp__kafka_txn_close(rp__kafka_txn *t)
{
    (void)t;
}
