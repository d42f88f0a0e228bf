/* Command-line options shared by the commands that touch streams. */
#ifndef RP_CLI_STREAM_OPTS_H
#define RP_CLI_STREAM_OPTS_H

#include <getopt.h>

#include "ridepred/stream.h"

#define RP_CLI_KAFKA_CONFIG_MAX 64

#define RP_STREAM_OPTS_HELP                                                                                  \
    "  --backend B           kinesis, local or kafka for bare stream names (default:\n"                      \
    "                        $RIDEPRED_STREAM_BACKEND, else Kinesis inside Lambda or\n"                      \
    "                        when a Kinesis endpoint is set, else local)\n"                                  \
    "  --store PATH          the local store's file (default: $RIDEPRED_LOCAL_STORE,\n"                      \
    "                        else ~/.local/state/ridepred/streams.db)\n"                                     \
    "  --endpoint-url URL    Kinesis endpoint (default: KINESIS_ENDPOINT_URL,\n"                             \
    "                        AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL)\n"                                  \
    "  --region R            AWS region (default: AWS_REGION, AWS_DEFAULT_REGION)\n"                         \
    "  --brokers LIST        Kafka bootstrap brokers HOST:PORT,... (default:\n"                              \
    "                        $RIDEPRED_KAFKA_BROKERS)\n"                                                     \
    "  --kafka-config K=V    a librdkafka property (repeatable; after the file)\n"                           \
    "  --kafka-config-file F librdkafka properties, KEY=VALUE lines (default:\n"                             \
    "                        $RIDEPRED_KAFKA_CONFIG_FILE)\n"                                                 \
    "  --msk-iam             Amazon MSK IAM: SASL_SSL + OAUTHBEARER tokens from the AWS\n"                   \
    "                        credential chain (docs/kafka.md)\n"

/* getopt_long entries; their values are 0x100..0x107. */
#define RP_STREAM_LONGOPTS                                                                                   \
    {"backend", required_argument, NULL, 0x100}, {"store", required_argument, NULL, 0x101},                  \
        {"endpoint-url", required_argument, NULL, 0x102}, {"region", required_argument, NULL, 0x103},        \
        {"brokers", required_argument, NULL, 0x104}, {"kafka-config", required_argument, NULL, 0x105},       \
        {"kafka-config-file", required_argument, NULL, 0x106},                                               \
    {                                                                                                        \
        "msk-iam", no_argument, NULL, 0x107                                                                  \
    }

/* Applies one of those options; returns 1 when c was one, 0 when not, -1 on
 * a bad value (printed). */
int rp__cli_stream_opt(int c, const char *arg, rp_stream_config *cfg);

/* After parsing: fills what the flags left unset from the environment, the
 * one place these variables take effect: the backend for bare names
 * (RIDEPRED_STREAM_BACKEND, else Kinesis inside Lambda: AWS_LAMBDA_RUNTIME_API
 * or AWS_LAMBDA_FUNCTION_NAME set, else the library's rule), the local
 * store (RIDEPRED_LOCAL_STORE, else rp__cli_state_path("streams.db")), the
 * Kinesis endpoint (KINESIS_ENDPOINT_URL; the SDKs' AWS_ENDPOINT_URL_KINESIS
 * and AWS_ENDPOINT_URL are read by src/aws), the Kafka brokers
 * (RIDEPRED_KAFKA_BROKERS) and properties file (RIDEPRED_KAFKA_CONFIG_FILE).  The strings stay valid for the
 * process.  Returns 0, or -1 (printed) for a bad RIDEPRED_STREAM_BACKEND. */
int rp__cli_stream_resolve(rp_stream_config *cfg);

/* Parses a stream spec and opens its backend (cfg resolved first); prints
 * why on failure. */
int rp__cli_open_stream(const char *spec, rp_stream_config *cfg, rp_stream_conn **s,
                        char name[RP_STREAM_NAME_MAX + 1]);

#endif
