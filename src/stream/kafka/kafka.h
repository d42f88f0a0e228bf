/* ridepred: the Apache Kafka backend (docs/kafka.md), through librdkafka,
 * which is loaded on first use (src/common/dl.h): commands that never name
 * a kafka: stream never load it.
 *
 * How Kafka maps onto the stream interface (include/ridepred/stream.h):
 *  - a stream is a topic; its shards are the topic's partitions, named by
 *    their number in decimal ("0", "1", ...); partitions never close;
 *  - a record's partition key is the message key, its data the value; the
 *    partition is chosen by the producer's partitioner, murmur2_random by
 *    default (where the Java client puts a keyed message);
 *  - a sequence number is the message offset in decimal;
 *  - an iterator is "OFFSET/PARTITION/TOPIC": TRIM_HORIZON is the low
 *    watermark, LATEST the high one, AT_TIMESTAMP the first offset at or
 *    after the time (the broker's offsets-for-times);
 *  - MillisBehindLatest is 0 at the end of the partition, else the age of the
 *    last message read (Kafka reports no such figure).
 *
 * Configuration: bootstrap.servers from the options' brokers, then the
 * properties file's lines, then the KEY=VALUE pairs (later wins), so any
 * librdkafka property (SASL, SSL, timeouts) is set as librdkafka users set
 * it.  Producers are idempotent (acks=all) and wait for the cluster's
 * acknowledgement of every message before a put returns; ridepred's own
 * defaults (message.timeout.ms 10 s, so that a put in an outage comes back
 * and the caller's retry loop stays in charge) yield to the user's values.
 * `sasl.mechanism=OAUTHBEARER` with `ridepred.msk.iam=true` makes tokens
 * for Amazon MSK IAM (src/aws/msk_iam.h).
 *
 * Errors: RP_ERR_NOT_FOUND for a topic or partition that does not exist,
 * RP_ERR_IO (retriable) when the cluster cannot be reached or answers with a
 * retriable error, RP_ERR_INVALID for a bad property (librdkafka's message)
 * or a refused request, RP_ERR_UNSUPPORTED when librdkafka is not
 * installed.  Messages start with librdkafka's error name where there is
 * one ("_TRANSPORT: ...").
 *
 * A handle is for one thread at a time; the producer under it is shared by
 * every handle of the process with the same configuration (librdkafka's
 * handles are thread-safe, and one producer batches for all). */
#ifndef RP_STREAM_KAFKA_H
#define RP_STREAM_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"
#include "ridepred/stream.h"

typedef struct rp__kafka rp__kafka;

/* Loads librdkafka (once per process).  0, or -1 (RP_ERR_UNSUPPORTED)
 * saying what to install. */
int rp__kafka_load(rp_error *err);

/* Opens a handle: checks the configuration (a bad property is an error
 * now), connects lazily.  cfg's Kafka fields are copied. */
int rp__kafka_open(const rp_stream_config *cfg, rp__kafka **out, rp_error *err);
void rp__kafka_close(rp__kafka *k);

/* Admin: topics (create and delete through the cluster's controller; a
 * replication factor of -1 is the broker's default). */
int rp__kafka_create_topic(rp__kafka *k, const char *topic, uint32_t partitions, int replication_factor,
                           rp_error *err);
int rp__kafka_delete_topic(rp__kafka *k, const char *topic, rp_error *err);
int rp__kafka_list_topics(rp__kafka *k, rp_stream_info **out, size_t *count, rp_error *err);
int rp__kafka_describe_topic(rp__kafka *k, const char *topic, rp_stream_info *out, rp_error *err);
int rp__kafka_list_partitions(rp__kafka *k, const char *topic, rp_stream_shard **out, size_t *count,
                              rp_error *err);

/* Produces n messages and waits until the cluster acknowledged or refused
 * each (results[i]); -1 only when nothing could be attempted. */
int rp__kafka_put(rp__kafka *k, const char *topic, const rp_stream_entry *entries, size_t n,
                  rp_stream_put_result *results, rp_error *err);

/* A put that does not wait: the messages are queued and the call returns
 * (librdkafka copies the keys, not the values: each entry's data must stay
 * as it is until rp__kafka_put_free returns); the cluster's answers come in
 * while the caller goes on (the consumer overlaps a batch's
 * acknowledgements with the next batches: docs/kafka.md).
 *
 * rp__kafka_put_start returns 0 with *out (free it with
 * rp__kafka_put_free), or -1 with err when nothing could be queued (no
 * producer, out of memory).  A message librdkafka refuses at once has its
 * result filled already.  rp__kafka_put_wait waits for every answer, up to
 * timeout_ms (-1: as long as it takes, bounded by message.timeout.ms; 0:
 * does not wait); returns 1 when all are in, else 0.  Once they are:
 * rp__kafka_put_failures counts the messages not taken (*first: the first
 * of them), rp__kafka_put_result gives message i's result.
 * rp__kafka_put_free waits for the answers still out, then frees.
 * rp__kafka_purge fails every message of the connection's producer not yet
 * acknowledged (answers come at once, refused: "purged"); for a process
 * that stops and must not wait out message.timeout.ms. */
typedef struct rp__kafka_put_call rp__kafka_put_call;
int rp__kafka_put_start(rp__kafka *k, const char *topic, const rp_stream_entry *entries, size_t n,
                        rp__kafka_put_call **out, rp_error *err);
int rp__kafka_put_wait(rp__kafka_put_call *call, int timeout_ms);
void rp__kafka_put_result(const rp__kafka_put_call *call, size_t i, rp_stream_put_result *r);
size_t rp__kafka_put_failures(const rp__kafka_put_call *call, size_t *first);
void rp__kafka_put_free(rp__kafka_put_call *call);
void rp__kafka_purge(rp__kafka *k);

/* The Kafka connection behind a stream connection, or NULL (another
 * backend). */
rp__kafka *rp__stream_kafka(rp_stream_conn *s);

int rp__kafka_get_iterator(rp__kafka *k, const char *topic, const char *partition, rp_stream_iterator type,
                           const char *offset, int64_t timestamp_ms, char iter[RP_STREAM_ITER_MAX],
                           rp_error *err);
int rp__kafka_get_records(rp__kafka *k, const char *iter, uint32_t limit, rp_stream_record_fn cb, void *ctx,
                          char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest, rp_error *err);

#endif
