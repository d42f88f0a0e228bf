/* What the Kafka backend's files share (src/stream/kafka/): librdkafka's
 * functions, loaded on first use, and the configuration and error rules.
 * Not for other modules: they use kafka.h and kafka_group.h. */
#ifndef RP_STREAM_KAFKA_INTERNAL_H
#define RP_STREAM_KAFKA_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "ridepred/error.h"
#include "ridepred/stream.h"

/* The librdkafka functions the backend calls (resolved by rp__kafka_load). */
typedef struct rp__rdk_api {
    const char *(*version_str)(void);
    rd_kafka_conf_t *(*conf_new)(void);
    rd_kafka_conf_res_t (*conf_set)(rd_kafka_conf_t *, const char *, const char *, char *, size_t);
    void (*conf_destroy)(rd_kafka_conf_t *);
    rd_kafka_conf_t *(*conf_dup)(const rd_kafka_conf_t *);
    void (*conf_set_opaque)(rd_kafka_conf_t *, void *);
    void (*conf_set_dr_msg_cb)(rd_kafka_conf_t *, void (*)(rd_kafka_t *, const rd_kafka_message_t *, void *));
    void (*conf_set_rebalance_cb)(rd_kafka_conf_t *, void (*)(rd_kafka_t *, rd_kafka_resp_err_t,
                                                              rd_kafka_topic_partition_list_t *, void *));
    void (*conf_set_log_cb)(rd_kafka_conf_t *, void (*)(const rd_kafka_t *, int, const char *, const char *));
    void (*conf_set_error_cb)(rd_kafka_conf_t *, void (*)(rd_kafka_t *, int, const char *, void *));
    void (*conf_set_oauthbearer_token_refresh_cb)(rd_kafka_conf_t *,
                                                  void (*)(rd_kafka_t *, const char *, void *));
    rd_kafka_resp_err_t (*oauthbearer_set_token)(rd_kafka_t *, const char *, int64_t, const char *,
                                                 const char **, size_t, char *, size_t);
    rd_kafka_resp_err_t (*oauthbearer_set_token_failure)(rd_kafka_t *, const char *);
    void (*conf_enable_sasl_queue)(rd_kafka_conf_t *, int);
    rd_kafka_error_t *(*sasl_background_callbacks_enable)(rd_kafka_t *);
    rd_kafka_t *(*new_)(rd_kafka_type_t, rd_kafka_conf_t *, char *, size_t);
    void (*destroy)(rd_kafka_t *);
    int (*poll)(rd_kafka_t *, int);
    rd_kafka_resp_err_t (*flush)(rd_kafka_t *, int);
    rd_kafka_error_t *(*produceva)(rd_kafka_t *, const rd_kafka_vu_t *, size_t);
    const char *(*err2str)(rd_kafka_resp_err_t);
    const char *(*err2name)(rd_kafka_resp_err_t);
    rd_kafka_resp_err_t (*last_error)(void);
    rd_kafka_resp_err_t (*purge)(rd_kafka_t *, int);
    rd_kafka_resp_err_t (*error_code)(const rd_kafka_error_t *);
    const char *(*error_string)(const rd_kafka_error_t *);
    int (*error_is_retriable)(const rd_kafka_error_t *);
    int (*error_is_fatal)(const rd_kafka_error_t *);
    int (*error_txn_requires_abort)(const rd_kafka_error_t *);
    void (*error_destroy)(rd_kafka_error_t *);
    rd_kafka_resp_err_t (*fatal_error)(rd_kafka_t *, char *, size_t);
    rd_kafka_resp_err_t (*metadata)(rd_kafka_t *, int, rd_kafka_topic_t *, const struct rd_kafka_metadata **,
                                    int);
    void (*metadata_destroy)(const struct rd_kafka_metadata *);
    rd_kafka_resp_err_t (*query_watermark_offsets)(rd_kafka_t *, const char *, int32_t, int64_t *, int64_t *,
                                                   int);
    rd_kafka_resp_err_t (*get_watermark_offsets)(rd_kafka_t *, const char *, int32_t, int64_t *, int64_t *);
    rd_kafka_resp_err_t (*offsets_for_times)(rd_kafka_t *, rd_kafka_topic_partition_list_t *, int);
    rd_kafka_topic_partition_list_t *(*tpl_new)(int);
    rd_kafka_topic_partition_t *(*tpl_add)(rd_kafka_topic_partition_list_t *, const char *, int32_t);
    void (*tpl_destroy)(rd_kafka_topic_partition_list_t *);
    rd_kafka_topic_t *(*topic_new)(rd_kafka_t *, const char *, rd_kafka_topic_conf_t *);
    void (*topic_destroy)(rd_kafka_topic_t *);
    const char *(*topic_name)(const rd_kafka_topic_t *);
    rd_kafka_resp_err_t (*assign)(rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
    rd_kafka_message_t *(*consumer_poll)(rd_kafka_t *, int);
    void (*message_destroy)(rd_kafka_message_t *);
    int64_t (*message_timestamp)(const rd_kafka_message_t *, rd_kafka_timestamp_type_t *);
    rd_kafka_resp_err_t (*poll_set_consumer)(rd_kafka_t *);
    rd_kafka_resp_err_t (*subscribe)(rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
    rd_kafka_resp_err_t (*consumer_close)(rd_kafka_t *);
    rd_kafka_error_t *(*incremental_assign)(rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
    rd_kafka_error_t *(*incremental_unassign)(rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
    const char *(*rebalance_protocol)(rd_kafka_t *);
    int (*assignment_lost)(rd_kafka_t *);
    rd_kafka_queue_t *(*queue_get_partition)(rd_kafka_t *, const char *, int32_t);
    rd_kafka_queue_t *(*queue_new)(rd_kafka_t *);
    void (*queue_forward)(rd_kafka_queue_t *, rd_kafka_queue_t *);
    void (*queue_destroy)(rd_kafka_queue_t *);
    ssize_t (*consume_batch_queue)(rd_kafka_queue_t *, int, rd_kafka_message_t **, size_t);
    rd_kafka_event_t *(*queue_poll)(rd_kafka_queue_t *, int);
    rd_kafka_resp_err_t (*commit)(rd_kafka_t *, const rd_kafka_topic_partition_list_t *, int);
    rd_kafka_resp_err_t (*offsets_store)(rd_kafka_t *, rd_kafka_topic_partition_list_t *);
    rd_kafka_resp_err_t (*committed)(rd_kafka_t *, rd_kafka_topic_partition_list_t *, int);
    rd_kafka_resp_err_t (*seek)(rd_kafka_topic_t *, int32_t, int64_t, int);
    rd_kafka_error_t *(*seek_partitions)(rd_kafka_t *, rd_kafka_topic_partition_list_t *, int);
    rd_kafka_consumer_group_metadata_t *(*consumer_group_metadata)(rd_kafka_t *);
    void (*consumer_group_metadata_destroy)(rd_kafka_consumer_group_metadata_t *);
    rd_kafka_error_t *(*init_transactions)(rd_kafka_t *, int);
    rd_kafka_error_t *(*begin_transaction)(rd_kafka_t *);
    rd_kafka_error_t *(*send_offsets_to_transaction)(rd_kafka_t *, const rd_kafka_topic_partition_list_t *,
                                                     const rd_kafka_consumer_group_metadata_t *, int);
    rd_kafka_error_t *(*commit_transaction)(rd_kafka_t *, int);
    rd_kafka_error_t *(*abort_transaction)(rd_kafka_t *, int);
    /* Admin. */
    rd_kafka_AdminOptions_t *(*admin_options_new)(rd_kafka_t *, rd_kafka_admin_op_t);
    void (*admin_options_destroy)(rd_kafka_AdminOptions_t *);
    rd_kafka_resp_err_t (*admin_options_set_request_timeout)(rd_kafka_AdminOptions_t *, int, char *, size_t);
    rd_kafka_resp_err_t (*admin_options_set_operation_timeout)(rd_kafka_AdminOptions_t *, int, char *,
                                                               size_t);
    rd_kafka_NewTopic_t *(*new_topic_new)(const char *, int, int, char *, size_t);
    void (*new_topic_destroy)(rd_kafka_NewTopic_t *);
    void (*create_topics)(rd_kafka_t *, rd_kafka_NewTopic_t **, size_t, const rd_kafka_AdminOptions_t *,
                          rd_kafka_queue_t *);
    rd_kafka_DeleteTopic_t *(*delete_topic_new)(const char *);
    void (*delete_topic_destroy)(rd_kafka_DeleteTopic_t *);
    void (*delete_topics)(rd_kafka_t *, rd_kafka_DeleteTopic_t **, size_t, const rd_kafka_AdminOptions_t *,
                          rd_kafka_queue_t *);
    rd_kafka_resp_err_t (*event_error)(rd_kafka_event_t *);
    const char *(*event_error_string)(rd_kafka_event_t *);
    void (*event_destroy)(rd_kafka_event_t *);
    const rd_kafka_CreateTopics_result_t *(*event_create_topics_result)(rd_kafka_event_t *);
    const rd_kafka_DeleteTopics_result_t *(*event_delete_topics_result)(rd_kafka_event_t *);
    const rd_kafka_topic_result_t **(*create_topics_result_topics)(const rd_kafka_CreateTopics_result_t *,
                                                                   size_t *);
    const rd_kafka_topic_result_t **(*delete_topics_result_topics)(const rd_kafka_DeleteTopics_result_t *,
                                                                   size_t *);
    rd_kafka_resp_err_t (*topic_result_error)(const rd_kafka_topic_result_t *);
    const char *(*topic_result_error_string)(const rd_kafka_topic_result_t *);
} rp__rdk_api;

/* Filled by rp__kafka_load; read-only afterwards. */
extern rp__rdk_api rp__rdk;

/* What a librdkafka handle is for: its role adds ridepred's defaults. */
typedef enum rp__kafka_role {
    RP_KAFKA_PRODUCER = 1,   /* idempotent, acks=all, murmur2_random */
    RP_KAFKA_READER,         /* a consumer without a group: assign and read */
    RP_KAFKA_GROUP_CONSUMER, /* a consumer group member (kafka_group.c) */
    RP_KAFKA_TXN_PRODUCER,   /* a transactional producer (kafka_group.c) */
    RP_KAFKA_ADMIN           /* admin requests (a producer handle) */
} rp__kafka_role;

/* The handle's configuration, kept as text: "KEY=VALUE" lines in the
 * order they apply (ridepred's defaults first, then the brokers, the
 * properties file, the --kafka-config pairs).  Built by
 * rp__kafka_config_load; rp__kafka_conf makes a librdkafka configuration of
 * it for a role (extra: more "KEY=VALUE" pairs, NULL-terminated, applied
 * last).  Returns NULL with err set for a bad property. */
typedef struct rp__kafka_config {
    char **pairs; /* "KEY=VALUE", malloc'd */
    size_t n;
    bool msk_iam; /* --msk-iam: SASL/OAUTHBEARER tokens for Amazon MSK IAM */
    char *region; /* the cluster's region for MSK IAM (NULL: the AWS chain) */
    char *brokers;
} rp__kafka_config;

int rp__kafka_config_load(const rp_stream_config *cfg, rp__kafka_config *out, rp_error *err);
void rp__kafka_config_free(rp__kafka_config *c);
rd_kafka_conf_t *rp__kafka_conf(const rp__kafka_config *c, rp__kafka_role role, const char *const *extra,
                                rp_error *err);
/* A new librdkafka handle of conf (which it takes, also on failure). */
rd_kafka_t *rp__kafka_handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rp_error *err);

/* Produces one entry to the topic of rkt (key = partition key, copied;
 * value = data, NOT copied: e->data must stay as it is until the message's
 * delivery report; opaque: the report's _private), waiting while
 * librdkafka's queue is full.  The caller holds rkt (rd_kafka_topic_new)
 * for the whole put: naming the topic in every message would take the
 * handle's topic lock once per message.  Returns 0 queued, or librdkafka's
 * error when it was refused at once (then r, when given, says why). */
rd_kafka_resp_err_t rp__kafka_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const rp_stream_entry *e,
                                      void *opaque, rp_stream_put_result *r);
/* A consumed message as a stream record (views into m; seq receives the
 * offset in decimal). */
void rp__kafka_record(const rd_kafka_message_t *m, const char *shard, char seq[RP_I64_DEC_MAX],
                      rp_stream_record *r);
/* A delivery report as a put result (partition and offset, or the error). */
void rp__kafka_delivery_result(const rd_kafka_message_t *m, rp_stream_put_result *r);

/* Sets err from a librdkafka error code: the code's name and text, with
 * the RP_ code and retriable flag the backend's rules give it.  Returns -1. */
int rp__kafka_error(rp_error *err, rd_kafka_resp_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same from an error object (which it destroys). */
int rp__kafka_error_obj(rp_error *err, rd_kafka_error_t *e, const char *what);
/* Whether a code means the cluster is (for now) unavailable, not a refusal. */
bool rp__kafka_retriable(rd_kafka_resp_err_t code);

#endif
