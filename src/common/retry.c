/* See retry.h. */
#include "common/retry.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint32_t rp__retry_ceiling_ms(const rp__retry_policy *p, unsigned retry)
{
    if (retry == 0)
        return 0;
    uint64_t ceiling = p->base_delay_ms;
    for (unsigned i = 1; i < retry && ceiling < p->max_delay_ms; i++)
        ceiling *= 2;
    return ceiling < p->max_delay_ms ? (uint32_t)ceiling : p->max_delay_ms;
}

uint32_t rp__retry_delay_ms(const rp__retry_policy *p, unsigned retry, uint64_t random)
{
    uint64_t ceiling = rp__retry_ceiling_ms(p, retry);
    return (uint32_t)(random % (ceiling + 1));
}

void rp__retry_sleep(void *ctx, uint32_t ms)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* xorshift64*: jitter needs spread, not secrecy. */
uint64_t rp__retry_random(void *ctx)
{
    uint64_t *s = ctx;
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t rp__retry_seed(const void *salt)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)salt;
    return seed ? seed : 0x9E3779B97F4A7C15ULL;
}
