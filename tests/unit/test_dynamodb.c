/* The DynamoDB client (src/aws/dynamodb.h): the item codec (every type,
 * escapes, malformed and mistyped JSON, numbers kept as text, setters'
 * refusals, a random round trip), and the client's requests and outcomes
 * with an injected transport (no network): request shape, a failed
 * condition as its own outcome and never retried, throttling and 5xx
 * retried, unreachable endpoint retriable, GetItem of nothing, Scan
 * pagination, CreateTable of a table that exists, malformed answers.  The
 * real peer (dynalite) is tests/integration/test_dynamodb_client.py. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aws/dynamodb.h"
#include "common/buf.h"
#include "ridepred/log.h"
#include "testing.h"

/* ---- codec ------------------------------------------------------------- */

static rp__buf enc;

/* The item encoded (into enc: valid until the next call), or NULL. */
static char *encoded(const rp__ddb_item *it)
{
    rp__buf *b = &enc;
    rp__buf_cleanup(b);
    rp__buf_init(b, 1 << 20);
    rp_error err;
    if (rp__ddb_item_encode(it, b, &err) != 0)
        return NULL;
    return b->data;
}

TEST(test_every_type_encoded)
{
    rp__ddb_item it = {0};
    rp_error err;
    static const char nul_s[] = "a\0b";
    const char *ss[] = {"shardId-000000000001", "shardId-000000000002"};
    const char *ns[] = {"1", "-2.5e3"};
    CHECK(rp__ddb_item_set_s(&it, "leaseKey", "shardId-000000000000", 20, &err) == 0);
    CHECK(rp__ddb_item_set_n(&it, "leaseCounter", "42", &err) == 0);
    CHECK(rp__ddb_item_set_i64(&it, "min", INT64_MIN, &err) == 0);
    CHECK(rp__ddb_item_set_bool(&it, "t", true, &err) == 0);
    CHECK(rp__ddb_item_set_bool(&it, "f", false, &err) == 0);
    CHECK(rp__ddb_item_set_null(&it, "z", &err) == 0);
    CHECK(rp__ddb_item_set_ss(&it, "parentShardId", ss, 2, &err) == 0);
    CHECK(rp__ddb_item_set_ns(&it, "ns", ns, 2, &err) == 0);
    CHECK(rp__ddb_item_set_s(&it, "esc", "q\"b\\n\n\t\x01/\xc3\xa9\xf0\x9f\x98\x80", 15, &err) == 0);
    CHECK(rp__ddb_item_set_s(&it, "nul", nul_s, 3, &err) == 0);
    CHECK(rp__ddb_item_set_s(&it, "empty", "", 0, &err) == 0);
    CHECK(rp__ddb_item_set_s(&it, "\xc3\xa9t\xc3\xa9", "x", 1, &err) == 0);
    rp__ddb_value raw = {.type = RP_DDB_RAW, .s = {(char *)"{\"L\": [{\"S\": \"a\"}]}", 19}};
    CHECK(rp__ddb_item_set(&it, "list", &raw, &err) == 0);
    CHECK(it.n == 13);
    CHECK_STR(
        encoded(&it),
        "{\"leaseKey\": {\"S\": \"shardId-000000000000\"}, \"leaseCounter\": {\"N\": \"42\"}, "
        "\"min\": {\"N\": \"-9223372036854775808\"}, \"t\": {\"BOOL\": true}, \"f\": {\"BOOL\": false}, "
        "\"z\": {\"NULL\": true}, "
        "\"parentShardId\": {\"SS\": [\"shardId-000000000001\", \"shardId-000000000002\"]}, "
        "\"ns\": {\"NS\": [\"1\", \"-2.5e3\"]}, "
        "\"esc\": {\"S\": \"q\\\"b\\\\n\\n\\t\\u0001/\\u00e9\\ud83d\\ude00\"}, "
        "\"nul\": {\"S\": \"a\\u0000b\"}, \"empty\": {\"S\": \"\"}, \"\\u00e9t\\u00e9\": {\"S\": \"x\"}, "
        "\"list\": {\"L\": [{\"S\": \"a\"}]}}");

    /* Decoding what was encoded gives the same item back. */
    rp__ddb_item back = {0};
    char *text = encoded(&it);
    CHECK(text && rp__ddb_item_decode(text, strlen(text), &back, &err) == 0);
    CHECK(back.n == it.n);
    for (size_t i = 0; i < it.n && i < back.n; i++) {
        CHECK_STR(back.attrs[i].name, it.attrs[i].name);
        CHECK(back.attrs[i].v.type == it.attrs[i].v.type);
        CHECK(back.attrs[i].v.s.len == it.attrs[i].v.s.len);
        CHECK(back.attrs[i].v.b == it.attrs[i].v.b);
        CHECK(back.attrs[i].v.n == it.attrs[i].v.n);
    }
    const rp__ddb_value *v = rp__ddb_item_get(&back, "nul");
    CHECK(v && v->type == RP_DDB_S && v->s.len == 3 && !memcmp(v->s.ptr, nul_s, 3));
    v = rp__ddb_item_get(&back, "esc");
    CHECK(v && v->s.len == 15 && !memcmp(v->s.ptr, "q\"b\\n\n\t\x01/\xc3\xa9\xf0\x9f\x98\x80", 15));
    v = rp__ddb_item_get(&back, "parentShardId");
    CHECK(v && v->type == RP_DDB_SS && v->n == 2 && !strcmp(v->set[1].ptr, ss[1]));
    CHECK_STR(rp__ddb_item_get_s(&back, "leaseKey"), "shardId-000000000000");
    CHECK(rp__ddb_item_get_s(&back, "leaseCounter") == NULL); /* an N, not an S */
    int64_t x = 0;
    CHECK(rp__ddb_item_get_i64(&back, "leaseCounter", &x) == 0 && x == 42);
    CHECK(rp__ddb_item_get_i64(&back, "min", &x) == 0 && x == INT64_MIN);
    CHECK(rp__ddb_item_get_i64(&back, "leaseKey", &x) != 0);
    CHECK(rp__ddb_item_get_i64(&back, "absent", &x) != 0);
    rp__ddb_item_free(&back);
    rp__ddb_item_free(&it);
    CHECK(it.n == 0 && it.attrs == NULL);
}

TEST(test_decode_escapes_and_whitespace)
{
    static const char json[] = " { \"a\\u0062\" : { \"S\" : \"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\" } ,\n"
                               "\"m\": {\"M\": {\"x\": {\"N\":\"1\"},\n \"y\": {\"L\": [ ]}}},"
                               "\"b\": {\"B\": \"AAE=\"}, \"bs\": {\"BS\": [\"AA==\"]} } ";
    rp__ddb_item it = {0};
    rp_error err;
    CHECK(rp__ddb_item_decode(json, strlen(json), &it, &err) == 0);
    const rp__ddb_value *v = rp__ddb_item_get(&it, "ab");
    CHECK(v && v->type == RP_DDB_S && v->s.len == 10 &&
          !memcmp(v->s.ptr, "\xc3\xa9\xf0\x9f\x98\x80\n\"\\/", 10));
    /* Types this client does not model are kept as their JSON, compacted. */
    v = rp__ddb_item_get(&it, "m");
    CHECK(v && v->type == RP_DDB_RAW);
    CHECK_STR(v ? v->s.ptr : NULL, "{\"M\": {\"x\": {\"N\": \"1\"}, \"y\": {\"L\": []}}}");
    v = rp__ddb_item_get(&it, "b");
    CHECK_STR(v && v->type == RP_DDB_RAW ? v->s.ptr : NULL, "{\"B\": \"AAE=\"}");
    v = rp__ddb_item_get(&it, "bs");
    CHECK_STR(v && v->type == RP_DDB_RAW ? v->s.ptr : NULL, "{\"BS\": [\"AA==\"]}");
    CHECK_STR(encoded(&it), "{\"ab\": {\"S\": \"\\u00e9\\ud83d\\ude00\\n\\\"\\\\/\"}, "
                            "\"m\": {\"M\": {\"x\": {\"N\": \"1\"}, \"y\": {\"L\": []}}}, "
                            "\"b\": {\"B\": \"AAE=\"}, \"bs\": {\"BS\": [\"AA==\"]}}");

    /* A name given twice keeps the last value (json.loads), in its place. */
    static const char twice[] = "{\"a\": {\"S\": \"1\"}, \"b\": {\"N\": \"2\"}, \"a\": {\"N\": \"3\"}}";
    CHECK(rp__ddb_item_decode(twice, strlen(twice), &it, &err) == 0);
    CHECK(it.n == 2);
    CHECK_STR(encoded(&it), "{\"a\": {\"N\": \"3\"}, \"b\": {\"N\": \"2\"}}");
    /* The empty item. */
    CHECK(rp__ddb_item_decode("{}", 2, &it, &err) == 0 && it.n == 0);
    CHECK_STR(encoded(&it), "{}");
    rp__ddb_item_free(&it);
}

TEST(test_numbers_kept_as_text)
{
    static const char json[] =
        "{\"big\": {\"N\": \"123456789012345678901234567890123456789\"}, "
        "\"tiny\": {\"N\": \"-1.5E-130\"}, \"i\": {\"N\": \"9223372036854775807\"}, "
        "\"over\": {\"N\": \"9223372036854775808\"}, \"frac\": {\"N\": \"1.0\"}, "
        "\"exp\": {\"N\": \"1e3\"}, \"neg\": {\"N\": \"-0\"}, \"ns\": {\"NS\": [\"1e400\"]}}";
    rp__ddb_item it = {0};
    rp_error err;
    CHECK(rp__ddb_item_decode(json, strlen(json), &it, &err) == 0);
    CHECK_STR(rp__ddb_item_get(&it, "big")->s.ptr, "123456789012345678901234567890123456789");
    CHECK_STR(rp__ddb_item_get(&it, "tiny")->s.ptr, "-1.5E-130");
    CHECK_STR(rp__ddb_item_get(&it, "ns")->set[0].ptr, "1e400");
    int64_t x = 0;
    CHECK(rp__ddb_item_get_i64(&it, "i", &x) == 0 && x == INT64_MAX);
    CHECK(rp__ddb_item_get_i64(&it, "neg", &x) == 0 && x == 0);
    CHECK(rp__ddb_item_get_i64(&it, "big", &x) != 0);
    CHECK(rp__ddb_item_get_i64(&it, "over", &x) != 0);
    CHECK(rp__ddb_item_get_i64(&it, "frac", &x) != 0);
    CHECK(rp__ddb_item_get_i64(&it, "exp", &x) != 0);
    CHECK(rp__ddb_item_get_i64(&it, "tiny", &x) != 0);
    /* And written back exactly as read. */
    CHECK(strstr(encoded(&it), "{\"N\": \"123456789012345678901234567890123456789\"}") != NULL);
    CHECK(strstr(encoded(&it), "{\"NS\": [\"1e400\"]}") != NULL);
    rp__ddb_item_free(&it);
}

TEST(test_decode_refusals)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"", "malformed JSON"},
        {"{\"a\": {\"S\": \"x\"}", "malformed JSON"},
        {"{\"a\": {\"S\": \"x\"}} x", "malformed JSON"},
        {"{\"a\": {\"S\": \"\xff\"}}", "malformed JSON"}, /* not UTF-8 */
        {"[]", "must be a JSON object"},
        {"{\"a\": \"x\"}", "attribute a: the value is not an object"},
        {"{\"a\": {}}", "attribute a: a value with no type"},
        {"{\"a\": {\"S\": \"x\", \"N\": \"1\"}}", "attribute a: a value with more than one type"},
        {"{\"a\": {\"X\": \"1\"}}", "attribute a: unknown type X"},
        {"{\"a\": {\"s\": \"1\"}}", "attribute a: unknown type s"},
        {"{\"a\": {\"S\": 1}}", "attribute a: the S value is not a JSON string"},
        {"{\"a\": {\"S\": [\"x\"]}}", "attribute a: the S value is not a JSON string"},
        {"{\"a\": {\"N\": 1}}", "attribute a: the N value is not a JSON string"},
        {"{\"a\": {\"N\": \"abc\"}}", "attribute a: the N value is not a decimal number"},
        {"{\"a\": {\"N\": \"\"}}", "attribute a: the N value is not a decimal number"},
        {"{\"a\": {\"N\": \"1e\"}}", "attribute a: the N value is not a decimal number"},
        {"{\"a\": {\"N\": \"NaN\"}}", "attribute a: the N value is not a decimal number"},
        {"{\"a\": {\"N\": \" 1\"}}", "attribute a: the N value is not a decimal number"},
        {"{\"a\": {\"BOOL\": \"true\"}}", "attribute a: the BOOL value is not true or false"},
        {"{\"a\": {\"NULL\": false}}", "attribute a: the NULL value is not true"},
        {"{\"a\": {\"SS\": \"x\"}}", "attribute a: the SS value is not an array"},
        {"{\"a\": {\"SS\": [\"x\", 1]}}", "attribute a: the SS value has an element that is not a string"},
        {"{\"a\": {\"NS\": [\"1\", \"x\"]}}",
         "attribute a: the NS value has an element that is not a decimal"},
        {"{\"\": {\"S\": \"x\"}}", "empty or holds a NUL"},
        {"{\"a\\u0000b\": {\"S\": \"x\"}}", "empty or holds a NUL"},
        {"{\"ok\": {\"S\": \"x\"}, \"bad\": {\"N\": \"x\"}}", "attribute bad:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp__ddb_item it = {0};
        rp__ddb_item_set_s(&it, "stale", "x", 1, NULL);
        rp_error err;
        rp_error_clear(&err);
        int rc = rp__ddb_item_decode(bad[i].json, strlen(bad[i].json), &it, &err);
        CHECK(rc == -1);
        CHECK(err.code == RP_ERR_INVALID);
        CHECK(it.n == 0 && it.attrs == NULL); /* emptied, nothing leaked */
        if (!strstr(err.msg, bad[i].want)) {
            fprintf(stderr, "case %zu: %s\n  got %s\n  want %s\n", i, bad[i].json, err.msg, bad[i].want);
            CHECK(!"the message names the problem");
        }
    }
}

TEST(test_setter_refusals)
{
    rp__ddb_item it = {0};
    rp_error err;
    const char *dup[] = {"a", "b", "a"};
    const char *with_null[] = {"a", NULL};
    const char *bad_ns[] = {"1", "one"};
    const char *same_ns[] = {"1", "1"};
    CHECK(rp__ddb_item_set_s(&it, "k", "v", 1, &err) == 0);
    CHECK(rp__ddb_item_set_s(&it, NULL, "v", 1, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(rp__ddb_item_set_s(&it, "", "v", 1, &err) == -1 && strstr(err.msg, "1 to 65535 bytes"));
    CHECK(rp__ddb_item_set_s(&it, "\xc3", "v", 1, &err) == -1 && strstr(err.msg, "not valid UTF-8"));
    CHECK(rp__ddb_item_set_s(&it, "s", "\xed\xa0\x80", 3, &err) == -1 && strstr(err.msg, "not valid UTF-8"));
    CHECK(rp__ddb_item_set_s(&it, "s", NULL, 2, &err) == -1 && strstr(err.msg, "value missing"));
    CHECK(rp__ddb_item_set_n(&it, "n", "abc", &err) == -1 && strstr(err.msg, "not a decimal number"));
    CHECK(rp__ddb_item_set_n(&it, "n", "", &err) == -1);
    CHECK(rp__ddb_item_set_n(&it, "n", "+1", &err) == -1);
    CHECK(rp__ddb_item_set_n(&it, "n", "1e+", &err) == -1);
    CHECK(rp__ddb_item_set_n(&it, "n", "-", &err) == -1);
    CHECK(rp__ddb_item_set_n(&it, "n", ".5", &err) == 0);
    CHECK(rp__ddb_item_set_n(&it, "n", "-12.50e+07", &err) == 0);
    CHECK(rp__ddb_item_set_ss(&it, "ss", dup, 0, &err) == -1 && strstr(err.msg, "must not be empty"));
    CHECK(rp__ddb_item_set_ss(&it, "ss", dup, 3, &err) == -1 && strstr(err.msg, "holds 'a' twice"));
    CHECK(rp__ddb_item_set_ss(&it, "ss", with_null, 2, &err) == -1 && strstr(err.msg, "element 1"));
    CHECK(rp__ddb_item_set_ns(&it, "ns", bad_ns, 2, &err) == -1 && strstr(err.msg, "not a decimal number"));
    CHECK(rp__ddb_item_set_ns(&it, "ns", same_ns, 2, &err) == -1 && strstr(err.msg, "twice"));
    rp__ddb_value raw = {.type = RP_DDB_RAW, .s = {(char *)"[1]", 3}};
    CHECK(rp__ddb_item_set(&it, "r", &raw, &err) == -1 && strstr(err.msg, "must be a JSON object"));
    rp__ddb_value unknown = {.type = (rp__ddb_type)99};
    CHECK(rp__ddb_item_set(&it, "u", &unknown, &err) == -1 && strstr(err.msg, "unknown type"));
    /* Refusals left the item as it was: k and n. */
    CHECK(it.n == 2);
    CHECK_STR(encoded(&it), "{\"k\": {\"S\": \"v\"}, \"n\": {\"N\": \"-12.50e+07\"}}");

    /* Replacing keeps the place; removing closes the gap. */
    CHECK(rp__ddb_item_set_bool(&it, "k", true, &err) == 0);
    CHECK(rp__ddb_item_set_null(&it, "z", &err) == 0);
    CHECK_STR(encoded(&it),
              "{\"k\": {\"BOOL\": true}, \"n\": {\"N\": \"-12.50e+07\"}, \"z\": {\"NULL\": true}}");
    CHECK(rp__ddb_item_remove(&it, "n"));
    CHECK(!rp__ddb_item_remove(&it, "n"));
    CHECK_STR(encoded(&it), "{\"k\": {\"BOOL\": true}, \"z\": {\"NULL\": true}}");
    /* rp__ddb_item_set copies any value, sets included. */
    rp__ddb_item other = {0};
    const char *ss[] = {"x", "y"};
    CHECK(rp__ddb_item_set_ss(&other, "ss", ss, 2, &err) == 0);
    CHECK(rp__ddb_item_set(&it, "copy", rp__ddb_item_get(&other, "ss"), &err) == 0);
    rp__ddb_item_free(&other);
    CHECK_STR(encoded(&it),
              "{\"k\": {\"BOOL\": true}, \"z\": {\"NULL\": true}, \"copy\": {\"SS\": [\"x\", \"y\"]}}");
    rp__ddb_item_free(&it);
    rp__ddb_item_free(NULL);
}

/* Random items: encode, decode, encode again gives the same text. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static size_t random_text(char *out, size_t cap)
{
    static const char *const pieces[] = {"a",
                                         "Z",
                                         "0",
                                         " ",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\n",
                                         "\x01",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\0"};
    size_t n = 0, k = rnd(12);
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[rnd(14)];
        size_t l = p[0] ? strlen(p) : 1;
        if (n + l >= cap)
            break;
        memcpy(out + n, p, l);
        n += l;
    }
    out[n] = '\0';
    return n;
}

TEST(test_random_round_trip)
{
    rp_error err;
    int failures = 0;
    for (int round = 0; round < 500 && failures < 3; round++) {
        rp__ddb_item it = {0}, back = {0};
        size_t attrs = rnd(8);
        for (size_t a = 0; a < attrs; a++) {
            char name[64], text[64], num[32];
            size_t nl = random_text(name, sizeof name);
            if (!nl || memchr(name, '\0', nl))
                snprintf(name, sizeof name, "n%zu", a);
            size_t tl = random_text(text, sizeof text);
            snprintf(num, sizeof num, "%s%u.%ue%d", rnd(2) ? "-" : "", rnd(100000), rnd(1000),
                     (int)rnd(80) - 40);
            const char *set[3] = {"a", "b\xc3\xa9", "c\n"};
            const char *nums[2] = {"7", num};
            switch (rnd(7)) {
            case 0: rp__ddb_item_set_s(&it, name, text, tl, &err); break;
            case 1: rp__ddb_item_set_n(&it, name, num, &err); break;
            case 2: rp__ddb_item_set_bool(&it, name, rnd(2), &err); break;
            case 3: rp__ddb_item_set_null(&it, name, &err); break;
            case 4: rp__ddb_item_set_ss(&it, name, set, 1 + rnd(3), &err); break;
            case 5: rp__ddb_item_set_ns(&it, name, nums, 1 + rnd(2), &err); break;
            default: rp__ddb_item_set_i64(&it, name, (int64_t)rng, &err); break;
            }
        }
        char *first = encoded(&it);
        char copy[8192];
        snprintf(copy, sizeof copy, "%s", first ? first : "");
        bool ok = first && rp__ddb_item_decode(copy, strlen(copy), &back, &err) == 0 && back.n == it.n;
        char *second = ok ? encoded(&back) : NULL;
        if (!ok || !second || strcmp(copy, second) != 0) {
            failures++;
            fprintf(stderr, "round trip %d: %s\n  -> %s\n", round, copy, second ? second : err.msg);
        }
        rp__ddb_item_free(&it);
        rp__ddb_item_free(&back);
    }
    CHECK(failures == 0);
}

/* ---- the client, with an injected transport ----------------------------- */

#define MAX_SCRIPT 64

typedef struct fake {
    struct {
        long status; /* 0: a transport failure */
        const char *body;
    } answers[MAX_SCRIPT];
    size_t n_answers, next;
    char target[MAX_SCRIPT][64];
    char body[MAX_SCRIPT][2048];
    char url[MAX_SCRIPT][128];
    char ctype[MAX_SCRIPT][64];
    bool signed_dynamodb[MAX_SCRIPT];
    size_t requests;
} fake;

static const char *header(const rp__http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (!strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    return "";
}

static int transport(void *ctx, rp__http_client *c, const rp__http_request *req, rp__http_response *resp,
                     rp_error *err)
{
    (void)c;
    fake *f = ctx;
    size_t i = f->requests < MAX_SCRIPT ? f->requests : MAX_SCRIPT - 1;
    f->requests++;
    snprintf(f->target[i], sizeof f->target[i], "%s", header(req, "X-Amz-Target"));
    snprintf(f->ctype[i], sizeof f->ctype[i], "%s", header(req, "Content-Type"));
    snprintf(f->body[i], sizeof f->body[i], "%.*s", (int)req->body_len, (const char *)req->body);
    snprintf(f->url[i], sizeof f->url[i], "%s", req->url);
    f->signed_dynamodb[i] = strstr(header(req, "Authorization"), "/eu-west-1/dynamodb/aws4_request") != NULL;
    if (f->next >= f->n_answers)
        return rp_error_set(err, RP_ERR_INTERNAL, "the test's script ran out");
    size_t a = f->next++;
    if (!f->answers[a].status) {
        rp_error_set(err, RP_ERR_IO, "Connection refused");
        err->retriable = true;
        return -1;
    }
    resp->status = f->answers[a].status;
    rp__buf_puts(&resp->body, f->answers[a].body);
    return 0;
}

static void no_sleep(void *ctx, uint32_t ms)
{
    (void)ms;
    (*(unsigned *)ctx)++;
}

static rp__dynamodb *open_fake(fake *f, unsigned *sleeps)
{
    rp__aws_credentials cr;
    rp_error err;
    CHECK(rp__aws_credentials_set(&cr, "AKIDDYNAMO", "secret", NULL, &err) == 0);
    rp__dynamodb_options o = {.endpoint_url = "http://127.0.0.1:1",
                              .region = "eu-west-1",
                              .credentials = &cr,
                              .retry = {.max_attempts = 3, .base_delay_ms = 1, .max_delay_ms = 2},
                              .wait_timeout_ms = 1000};
    rp__dynamodb *d = NULL;
    CHECK(rp__dynamodb_open(&o, &d, &err) == 0);
    if (!d)
        return NULL;
    rp__http_client *h = rp__dynamodb_http(d);
    h->transport = transport;
    h->transport_ctx = f;
    h->sleep_ms = no_sleep;
    h->sleep_ctx = sleeps;
    memset(f, 0, sizeof *f);
    return d;
}

static void script(fake *f, long status, const char *body)
{
    if (f->n_answers == MAX_SCRIPT) {
        fprintf(stderr, "the test's script is longer than %d answers\n", MAX_SCRIPT);
        exit(2);
    }
    f->answers[f->n_answers].status = status;
    f->answers[f->n_answers].body = body;
    f->n_answers++;
}

#define ERR_BODY(code, msg)                                                                                  \
    "{\"__type\": \"com.amazonaws.dynamodb.v20120810#" code "\", \"message\": \"" msg "\"}"

TEST(test_endpoint_and_request_shape)
{
    fake f;
    unsigned sleeps = 0;
    rp__dynamodb *d = open_fake(&f, &sleeps);
    if (!d)
        return;
    CHECK_STR(rp__dynamodb_endpoint(d), "http://127.0.0.1:1/");
    CHECK_STR(rp__dynamodb_region(d), "eu-west-1");
    rp__ddb_item item = {0}, values = {0};
    rp_error err;
    rp__ddb_item_set_s(&item, "leaseKey", "shardId-0", 9, &err);
    rp__ddb_item_set_i64(&item, "leaseCounter", 1, &err);
    rp__ddb_item_set_n(&values, ":c", "0", &err);
    rp__ddb_name names[] = {{"#c", "leaseCounter"}};
    rp__ddb_expr x = {.condition = "attribute_not_exists(leaseKey) OR #c = :c",
                      .names = names,
                      .n_names = 1,
                      .values = &values};
    script(&f, 200, "{}");
    CHECK(rp__dynamodb_put_item(d, "leases", &item, &x, &err) == 0);
    CHECK(f.requests == 1);
    CHECK_STR(f.target[0], "DynamoDB_20120810.PutItem");
    CHECK_STR(f.ctype[0], "application/x-amz-json-1.0");
    CHECK_STR(f.url[0], "http://127.0.0.1:1/");
    CHECK(f.signed_dynamodb[0]);
    CHECK_STR(f.body[0], "{\"TableName\": \"leases\", \"Item\": {\"leaseKey\": {\"S\": \"shardId-0\"}, "
                         "\"leaseCounter\": {\"N\": \"1\"}}, "
                         "\"ConditionExpression\": \"attribute_not_exists(leaseKey) OR #c = :c\", "
                         "\"ExpressionAttributeNames\": {\"#c\": \"leaseCounter\"}, "
                         "\"ExpressionAttributeValues\": {\":c\": {\"N\": \"0\"}}}");
    CHECK_STR(rp__dynamodb_last_code(d), "");

    /* UpdateItem with ALL_NEW; its answer decoded. */
    rp__ddb_item key = {0}, fresh = {0};
    rp__ddb_item_set_s(&key, "leaseKey", "shardId-0", 9, &err);
    script(&f, 200,
           "{\"Attributes\": {\"leaseKey\": {\"S\": \"shardId-0\"}, \"leaseCounter\": {\"N\": \"2\"}}}");
    CHECK(rp__dynamodb_update_item(d, "leases", &key, "ADD #c :c", &x, &fresh, &err) == 0);
    CHECK_STR(f.target[1], "DynamoDB_20120810.UpdateItem");
    CHECK(strstr(f.body[1], "\"UpdateExpression\": \"ADD #c :c\"") != NULL);
    CHECK(strstr(f.body[1], "\"ReturnValues\": \"ALL_NEW\"") != NULL);
    int64_t counter = 0;
    CHECK(rp__ddb_item_get_i64(&fresh, "leaseCounter", &counter) == 0 && counter == 2);
    /* Without new_item, no ReturnValues. */
    script(&f, 200, "{}");
    CHECK(rp__dynamodb_update_item(d, "leases", &key, "ADD #c :c", &x, NULL, &err) == 0);
    CHECK(strstr(f.body[2], "ReturnValues") == NULL);
    /* DeleteItem without a condition. */
    script(&f, 200, "{}");
    CHECK(rp__dynamodb_delete_item(d, "leases", &key, NULL, &err) == 0);
    CHECK_STR(f.body[3], "{\"TableName\": \"leases\", \"Key\": {\"leaseKey\": {\"S\": \"shardId-0\"}}}");

    /* Refused before any request. */
    size_t before = f.requests;
    CHECK(rp__dynamodb_put_item(d, "x", &item, NULL, &err) == -1 && err.code == RP_ERR_INVALID &&
          strstr(err.msg, "3 to 255"));
    CHECK(rp__dynamodb_put_item(d, "bad name!", &item, NULL, &err) == -1 && err.code == RP_ERR_INVALID);
    rp__ddb_item empty = {0};
    CHECK(rp__dynamodb_get_item(d, "leases", &empty, true, &fresh, &err) == -1 &&
          strstr(err.msg, "key missing"));
    CHECK(rp__dynamodb_update_item(d, "leases", &key, "", NULL, NULL, &err) == -1 &&
          strstr(err.msg, "UpdateExpression"));
    rp__ddb_name bad_names[] = {{"c", "leaseCounter"}};
    rp__ddb_expr bad_x = {.condition = "c = :c", .names = bad_names, .n_names = 1};
    CHECK(rp__dynamodb_put_item(d, "leases", &item, &bad_x, &err) == -1 && strstr(err.msg, "\"#name\""));
    rp__ddb_expr bad_v = {.condition = "a = c", .values = &item};
    CHECK(rp__dynamodb_put_item(d, "leases", &item, &bad_v, &err) == -1 &&
          strstr(err.msg, "must start with ':'"));
    CHECK(f.requests == before);

    rp__ddb_item_free(&item);
    rp__ddb_item_free(&values);
    rp__ddb_item_free(&key);
    rp__ddb_item_free(&fresh);
    rp__dynamodb_close(d);
}

TEST(test_condition_failed_is_its_own_outcome)
{
    fake f;
    unsigned sleeps = 0;
    rp__dynamodb *d = open_fake(&f, &sleeps);
    if (!d)
        return;
    rp__ddb_item key = {0}, fresh = {0};
    rp_error err;
    rp__ddb_item_set_s(&key, "leaseKey", "k", 1, &err);
    rp__ddb_expr x = {.condition = "attribute_not_exists(leaseKey)"};
    static const char failed[] =
        ERR_BODY("ConditionalCheckFailedException", "The conditional request failed");

    script(&f, 400, failed);
    CHECK(rp__dynamodb_put_item(d, "leases", &key, &x, &err) == RP_DDB_CONDITION_FAILED);
    CHECK(f.requests == 1 && sleeps == 0); /* never retried */
    CHECK(!err.retriable);
    CHECK(strstr(err.msg, "ConditionalCheckFailedException: The conditional request failed") != NULL);
    CHECK_STR(rp__dynamodb_last_code(d), "ConditionalCheckFailedException");

    script(&f, 400, failed);
    rp__ddb_item_set_s(&fresh, "stale", "x", 1, &err);
    CHECK(rp__dynamodb_update_item(d, "leases", &key, "SET a = b", &x, &fresh, &err) ==
          RP_DDB_CONDITION_FAILED);
    CHECK(fresh.n == 0);
    script(&f, 400, failed);
    CHECK(rp__dynamodb_delete_item(d, "leases", &key, &x, &err) == RP_DDB_CONDITION_FAILED);
    CHECK(f.requests == 3 && sleeps == 0);

    /* Another 400 is an error, not a failed condition. */
    script(&f, 400, ERR_BODY("ValidationException", "The provided key element does not match the schema"));
    CHECK(rp__dynamodb_put_item(d, "leases", &key, &x, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID && !err.retriable);
    CHECK_STR(rp__dynamodb_last_code(d), "ValidationException");
    script(&f, 400, ERR_BODY("ResourceNotFoundException", "Requested resource not found"));
    CHECK(rp__dynamodb_delete_item(d, "leases", &key, &x, &err) == -1 && err.code == RP_ERR_NOT_FOUND);
    /* A success clears the last code. */
    script(&f, 200, "{}");
    CHECK(rp__dynamodb_put_item(d, "leases", &key, NULL, &err) == 0);
    CHECK_STR(rp__dynamodb_last_code(d), "");
    rp__ddb_item_free(&key);
    rp__ddb_item_free(&fresh);
    rp__dynamodb_close(d);
}

TEST(test_throttling_5xx_and_network_retried)
{
    static const char *const throttles[] = {
        ERR_BODY("ProvisionedThroughputExceededException", "The level of configured provisioned throughput"),
        ERR_BODY("ThrottlingException", "Rate of requests exceeds the allowed throughput."),
        ERR_BODY("RequestLimitExceeded", "Throughput exceeds the current throughput limit for your account."),
    };
    rp__ddb_item key = {0}, got = {0};
    rp_error err;
    rp__ddb_item_set_s(&key, "leaseKey", "k", 1, &err);
    for (size_t i = 0; i < 3; i++) {
        fake f;
        unsigned sleeps = 0;
        rp__dynamodb *d = open_fake(&f, &sleeps);
        if (!d)
            return;
        /* Two throttled answers, then the item. */
        script(&f, 400, throttles[i]);
        script(&f, 400, throttles[i]);
        script(&f, 200, "{\"Item\": {\"leaseKey\": {\"S\": \"k\"}}}");
        CHECK(rp__dynamodb_get_item(d, "leases", &key, true, &got, &err) == 0);
        CHECK(f.requests == 3 && sleeps == 2);
        CHECK(rp__dynamodb_http(d)->last_attempts == 3);
        CHECK(strstr(f.body[0], "\"ConsistentRead\": true") != NULL);
        CHECK_STR(rp__ddb_item_get_s(&got, "leaseKey"), "k");
        /* Throttled on every attempt: a retriable error. */
        script(&f, 400, throttles[i]);
        script(&f, 400, throttles[i]);
        script(&f, 400, throttles[i]);
        CHECK(rp__dynamodb_get_item(d, "leases", &key, true, &got, &err) == -1);
        CHECK(err.code == RP_ERR_IO && err.retriable);
        CHECK(strstr(err.msg, "(3 attempts)") != NULL);
        CHECK(got.n == 0);
        rp__dynamodb_close(d);
    }

    fake f;
    unsigned sleeps = 0;
    rp__dynamodb *d = open_fake(&f, &sleeps);
    if (!d)
        return;
    /* 500 and 503, then success. */
    script(&f, 500, ERR_BODY("InternalServerError", "Internal Server Error"));
    script(&f, 503, "{}");
    script(&f, 200, "{}");
    CHECK(rp__dynamodb_put_item(d, "leases", &key, NULL, &err) == 0 && f.requests == 3);
    /* Unreachable every time: retriable, and says which endpoint. */
    script(&f, 0, NULL);
    script(&f, 0, NULL);
    script(&f, 0, NULL);
    CHECK(rp__dynamodb_put_item(d, "leases", &key, NULL, &err) == -1);
    CHECK(err.code == RP_ERR_IO && err.retriable);
    CHECK(strstr(err.msg, "DynamoDB endpoint http://127.0.0.1:1:") == err.msg);
    CHECK(f.requests == 6);
    CHECK_STR(rp__dynamodb_last_code(d), "");
    rp__ddb_item_free(&key);
    rp__ddb_item_free(&got);
    rp__dynamodb_close(d);
}

TEST(test_get_item_absent)
{
    fake f;
    unsigned sleeps = 0;
    rp__dynamodb *d = open_fake(&f, &sleeps);
    if (!d)
        return;
    rp__ddb_item key = {0}, got = {0};
    rp_error err;
    rp__ddb_item_set_s(&key, "leaseKey", "k", 1, &err);
    rp__ddb_item_set_s(&got, "stale", "x", 1, &err);
    script(&f, 200, "{}");
    CHECK(rp__dynamodb_get_item(d, "leases", &key, false, &got, &err) == 1);
    CHECK(got.n == 0);
    CHECK(strstr(f.body[0], "ConsistentRead") == NULL);
    /* An Item that cannot be read is the service's fault: RP_ERR_IO. */
    script(&f, 200, "{\"Item\": {\"leaseKey\": {\"Q\": \"k\"}}}");
    CHECK(rp__dynamodb_get_item(d, "leases", &key, true, &got, &err) == -1);
    CHECK(err.code == RP_ERR_IO && strstr(err.msg, "DynamoDB answered GetItem with an Item it cannot read") &&
          strstr(err.msg, "unknown type Q"));
    script(&f, 200, "[]");
    CHECK(rp__dynamodb_get_item(d, "leases", &key, true, &got, &err) == -1 && err.code == RP_ERR_IO);
    script(&f, 200, "{\"Item\": {\"leaseKey\": {\"S\": \"k\"}}");
    CHECK(rp__dynamodb_get_item(d, "leases", &key, true, &got, &err) == -1 &&
          strstr(err.msg, "malformed JSON"));
    rp__ddb_item_free(&key);
    rp__ddb_item_free(&got);
    rp__dynamodb_close(d);
}

typedef struct seen {
    char keys[16][16];
    size_t n;
    size_t stop_at;
} seen;

static int on_item(void *ctx, const rp__ddb_item *it)
{
    seen *s = ctx;
    const char *k = rp__ddb_item_get_s(it, "k");
    if (s->n < 16)
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", k ? k : "?");
    s->n++;
    return s->stop_at && s->n == s->stop_at;
}

TEST(test_scan_pages)
{
    fake f;
    unsigned sleeps = 0;
    rp__dynamodb *d = open_fake(&f, &sleeps);
    if (!d)
        return;
    rp_error err;
    seen s = {.n = 0};
    size_t pages = 99;
    script(&f, 200,
           "{\"Items\": [{\"k\": {\"S\": \"a\"}}, {\"k\": {\"S\": \"b\"}}], \"Count\": 2, "
           "\"LastEvaluatedKey\": {\"k\": {\"S\": \"b\"}}}");
    script(&f, 200, "{\"LastEvaluatedKey\": {\"k\": {\"S\": \"c\"}}, \"Items\": [{\"k\": {\"S\": \"c\"}}]}");
    script(&f, 200, "{\"Items\": [], \"Count\": 0}");
    rp__dynamodb_scan_options so = {.page_limit = 2, .consistent = true};
    CHECK(rp__dynamodb_scan(d, "leases", &so, on_item, &s, &pages, &err) == 0);
    CHECK(pages == 3 && s.n == 3);
    CHECK_STR(s.keys[0], "a");
    CHECK_STR(s.keys[2], "c");
    CHECK_STR(f.body[0], "{\"TableName\": \"leases\", \"Limit\": 2, \"ConsistentRead\": true}");
    CHECK_STR(f.body[1], "{\"TableName\": \"leases\", \"Limit\": 2, \"ConsistentRead\": true, "
                         "\"ExclusiveStartKey\": {\"k\": {\"S\": \"b\"}}}");
    CHECK(strstr(f.body[2], "\"ExclusiveStartKey\": {\"k\": {\"S\": \"c\"}}") != NULL);

    /* A filter with its placeholders. */
    rp__ddb_item values = {0};
    rp__ddb_item_set_s(&values, ":o", "w1", 2, &err);
    rp__ddb_name names[] = {{"#o", "leaseOwner"}};
    rp__ddb_expr filter = {.condition = "#o = :o", .names = names, .n_names = 1, .values = &values};
    rp__dynamodb_scan_options fo = {.filter = &filter};
    script(&f, 200, "{\"Items\": []}");
    CHECK(rp__dynamodb_scan(d, "leases", &fo, NULL, NULL, &pages, &err) == 0 && pages == 1);
    CHECK_STR(f.body[3], "{\"TableName\": \"leases\", \"FilterExpression\": \"#o = :o\", "
                         "\"ExpressionAttributeNames\": {\"#o\": \"leaseOwner\"}, "
                         "\"ExpressionAttributeValues\": {\":o\": {\"S\": \"w1\"}}}");
    rp__ddb_item_free(&values);

    /* The same LastEvaluatedKey twice would loop forever: an error. */
    static const char loop[] = "{\"Items\": [], \"LastEvaluatedKey\": {\"k\": {\"S\": \"x\"}}}";
    script(&f, 200, loop);
    script(&f, 200, loop);
    CHECK(rp__dynamodb_scan(d, "leases", NULL, NULL, NULL, &pages, &err) == -1);
    CHECK(err.code == RP_ERR_IO && strstr(err.msg, "the same LastEvaluatedKey twice"));
    CHECK(f.requests == 6);

    /* The callback stops it. */
    seen stop = {.stop_at = 1};
    script(&f, 200, "{\"Items\": [{\"k\": {\"S\": \"a\"}}, {\"k\": {\"S\": \"b\"}}]}");
    CHECK(rp__dynamodb_scan(d, "leases", NULL, on_item, &stop, &pages, &err) == -1);
    CHECK(err.code == RP_ERR_INTERNAL && stop.n == 1 && pages == 0);

    /* A page that fails after others: -1, pages counts those that came. */
    script(&f, 200, "{\"Items\": [{\"k\": {\"S\": \"a\"}}], \"LastEvaluatedKey\": {\"k\": {\"S\": \"a\"}}}");
    script(&f, 400, ERR_BODY("ResourceNotFoundException", "Requested resource not found"));
    CHECK(rp__dynamodb_scan(d, "leases", NULL, NULL, NULL, &pages, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND && pages == 1);
    /* Items not an array of objects. */
    script(&f, 200, "{\"Items\": [1]}");
    CHECK(rp__dynamodb_scan(d, "leases", NULL, NULL, NULL, &pages, &err) == -1 &&
          strstr(err.msg, "DynamoDB answered Scan with an element of Items that is not an object"));
    rp__dynamodb_close(d);
}

#define TABLE_JSON(status)                                                                                   \
    "{\"Table\": {\"TableName\": \"leases\", \"TableStatus\": \"" status "\", "                              \
    "\"AttributeDefinitions\": [{\"AttributeName\": \"other\", \"AttributeType\": \"N\"}, "                  \
    "{\"AttributeName\": \"leaseKey\", \"AttributeType\": \"S\"}], "                                         \
    "\"KeySchema\": [{\"KeyType\": \"HASH\", \"AttributeName\": \"leaseKey\"}], \"ItemCount\": 7, "          \
    "\"CreationDateTime\": 1700000000.25, \"BillingModeSummary\": {\"BillingMode\": \"PAY_PER_REQUEST\"}, "  \
    "\"ProvisionedThroughput\": {\"ReadCapacityUnits\": 0}}}"

TEST(test_tables)
{
    fake f;
    unsigned sleeps = 0;
    rp__dynamodb *d = open_fake(&f, &sleeps);
    if (!d)
        return;
    rp_error err;
    rp__dynamodb_table t;
    script(&f, 200, TABLE_JSON("ACTIVE"));
    CHECK(rp__dynamodb_describe_table(d, "leases", &t, &err) == 0);
    CHECK_STR(t.name, "leases");
    CHECK_STR(t.status, "ACTIVE");
    CHECK_STR(t.hash_key, "leaseKey");
    CHECK_STR(t.hash_key_type, "S");
    CHECK_STR(t.billing_mode, "PAY_PER_REQUEST");
    CHECK(t.item_count == 7 && t.created_ms == 1700000000250);

    /* CreateTable, then CREATING (twice: sleeps), then ACTIVE. */
    script(&f, 200, "{\"TableDescription\": {}}");
    script(&f, 400, ERR_BODY("ResourceNotFoundException", "not yet"));
    script(&f, 200, TABLE_JSON("CREATING"));
    script(&f, 200, TABLE_JSON("ACTIVE"));
    CHECK(rp__dynamodb_create_table(d, "leases", "leaseKey", &err) == 0);
    CHECK_STR(f.target[1], "DynamoDB_20120810.CreateTable");
    CHECK_STR(f.body[1],
              "{\"TableName\": \"leases\", \"AttributeDefinitions\": [{\"AttributeName\": \"leaseKey\", "
              "\"AttributeType\": \"S\"}], \"KeySchema\": [{\"AttributeName\": \"leaseKey\", "
              "\"KeyType\": \"HASH\"}], \"BillingMode\": \"PAY_PER_REQUEST\"}");
    CHECK(f.requests == 5 && sleeps == 2);
    /* A table that exists: 1, after waiting for it too. */
    script(&f, 400, ERR_BODY("ResourceInUseException", "Table already exists: leases"));
    script(&f, 200, TABLE_JSON("ACTIVE"));
    CHECK(rp__dynamodb_create_table(d, "leases", "leaseKey", &err) == 1);
    CHECK_STR(f.target[6], "DynamoDB_20120810.DescribeTable");
    /* Being deleted: not found. */
    script(&f, 400, ERR_BODY("ResourceInUseException", "Table is being deleted"));
    script(&f, 200, TABLE_JSON("DELETING"));
    CHECK(rp__dynamodb_create_table(d, "leases", "leaseKey", &err) == -1 && err.code == RP_ERR_NOT_FOUND);
    /* Never ACTIVE: a retriable timeout. */
    sleeps = 0;
    for (int i = 0; i < 8; i++)
        script(&f, 200, TABLE_JSON("UPDATING"));
    CHECK(rp__dynamodb_wait_active(d, "leases", &err) == -1);
    CHECK(err.code == RP_ERR_IO && err.retriable && strstr(err.msg, "still UPDATING after 1000 ms"));
    f.n_answers = f.next; /* drop what the wait did not use */
    /* DeleteTable waits until it is gone. */
    script(&f, 200, "{\"TableDescription\": {}}");
    script(&f, 200, TABLE_JSON("DELETING"));
    script(&f, 400, ERR_BODY("ResourceNotFoundException", "gone"));
    size_t before = f.requests;
    CHECK(rp__dynamodb_delete_table(d, "leases", &err) == 0 && f.requests == before + 3);
    /* Describe answers that are not a table. */
    script(&f, 200, "{\"Table\": {\"TableName\": \"leases\"}}");
    CHECK(rp__dynamodb_describe_table(d, "leases", &t, &err) == -1 &&
          strstr(err.msg, "no Table.TableStatus"));
    script(&f, 200, "{\"Table\": {\"TableStatus\": 5}}");
    CHECK(rp__dynamodb_describe_table(d, "leases", &t, &err) == -1 && strstr(err.msg, "unexpected value"));
    rp__dynamodb_close(d);
}

TEST(test_open_configuration)
{
    rp__aws_credentials cr;
    rp_error err;
    rp__aws_credentials_set(&cr, "AKID", "s", NULL, &err);
    rp__dynamodb *d = NULL;
    /* The region's endpoint when nothing else is said. */
    unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
    unsetenv("AWS_ENDPOINT_URL");
    rp__dynamodb_options o = {.region = "eu-central-1", .credentials = &cr};
    CHECK(rp__dynamodb_open(&o, &d, &err) == 0);
    CHECK_STR(d ? rp__dynamodb_endpoint(d) : NULL, "https://dynamodb.eu-central-1.amazonaws.com/");
    rp__dynamodb_close(d);
    o.region = "cn-north-1";
    CHECK(rp__dynamodb_open(&o, &d, &err) == 0);
    CHECK_STR(d ? rp__dynamodb_endpoint(d) : NULL, "https://dynamodb.cn-north-1.amazonaws.com.cn/");
    rp__dynamodb_close(d);
    /* AWS_ENDPOINT_URL, then AWS_ENDPOINT_URL_DYNAMODB over it, then the option over both. */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4000", 1);
    CHECK(rp__dynamodb_open(&o, &d, &err) == 0);
    CHECK_STR(d ? rp__dynamodb_endpoint(d) : NULL, "http://127.0.0.1:4000/");
    rp__dynamodb_close(d);
    setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000/base", 1);
    CHECK(rp__dynamodb_open(&o, &d, &err) == 0);
    CHECK_STR(d ? rp__dynamodb_endpoint(d) : NULL, "http://localhost:8000/base");
    rp__dynamodb_close(d);
    o.endpoint_url = "http://127.0.0.2:9";
    CHECK(rp__dynamodb_open(&o, &d, &err) == 0);
    CHECK_STR(d ? rp__dynamodb_endpoint(d) : NULL, "http://127.0.0.2:9/");
    rp__dynamodb_close(d);
    /* Refusals name their source. */
    o.endpoint_url = NULL;
    setenv("AWS_ENDPOINT_URL_DYNAMODB", "ftp://x", 1);
    CHECK(rp__dynamodb_open(&o, &d, &err) == -1 && d == NULL);
    CHECK(strstr(err.msg, "DynamoDB endpoint (AWS_ENDPOINT_URL_DYNAMODB)") != NULL);
    unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
    unsetenv("AWS_ENDPOINT_URL");
    o.region = "bad region";
    CHECK(rp__dynamodb_open(&o, &d, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(rp__dynamodb_open(&o, NULL, &err) == -1);
    rp__dynamodb_close(NULL);
}

int main(void)
{
    rp_log_configure(RP_LOG_OFF, RP_LOG_TEXT);
    RUN(test_every_type_encoded);
    RUN(test_decode_escapes_and_whitespace);
    RUN(test_numbers_kept_as_text);
    RUN(test_decode_refusals);
    RUN(test_setter_refusals);
    RUN(test_random_round_trip);
    RUN(test_endpoint_and_request_shape);
    RUN(test_condition_failed_is_its_own_outcome);
    RUN(test_throttling_5xx_and_network_retried);
    RUN(test_get_item_absent);
    RUN(test_scan_pages);
    RUN(test_tables);
    RUN(test_open_configuration);
    rp__buf_cleanup(&enc);
    fprintf(stderr, "%d passed, %d failed\n", rp_t_checks - rp_t_failed, rp_t_failed);
    return rp_t_failed ? 1 : 0;
}
