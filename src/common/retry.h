/* Retry policies: capped exponential backoff with jitter, shared by the
 * AWS HTTP client (src/aws/http.c), the Lambda Runtime API client
 * (src/lambda/rapi.c) and the consumer's stalls (src/consume/consumer.c). */
#ifndef RP_COMMON_RETRY_H
#define RP_COMMON_RETRY_H

#include <stdint.h>

/* Retry policy.  max_attempts counts the first attempt (1 = no retry, 0 is
 * taken as 1); delays are in milliseconds. */
typedef struct rp__retry_policy {
    unsigned max_attempts;
    uint32_t base_delay_ms;
    uint32_t max_delay_ms;
} rp__retry_policy;

/* 5 attempts, 100 ms base, 20 s cap. */
#define RP_RETRY_POLICY_DEFAULT ((rp__retry_policy){5, 100, 20000})

/* The ceiling of the full-jitter delay before retry number `retry` (1 for
 * the first retry): min(max_delay, base_delay * 2^(retry - 1)), without
 * overflow.  0 when retry is 0. */
uint32_t rp__retry_ceiling_ms(const rp__retry_policy *p, unsigned retry);

/* The full-jitter delay before retry number `retry`: `random` (any 64-bit
 * value) reduced uniformly into [0, rp__retry_ceiling_ms(p, retry)]. */
uint32_t rp__retry_delay_ms(const rp__retry_policy *p, unsigned retry, uint64_t random);

/* The default hooks of the retry loops (the HTTP client, the Lambda Runtime API
 * client, the consumer): sleep ms milliseconds (EINTR resumed); xorshift64* over the
 * uint64_t state at ctx (jitter needs spread, not secrecy); a non-zero seed
 * for that state (getrandom, else time, pid and `salt`). */
void rp__retry_sleep(void *ctx, uint32_t ms);
uint64_t rp__retry_random(void *ctx);
uint64_t rp__retry_seed(const void *salt);

#endif
