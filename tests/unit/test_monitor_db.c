/* src/monitor/db.h without a server: table names, timestamps, and what
 * rp__monitor_db_open refuses before connecting.  The rows themselves are
 * tested against a real PostgreSQL by tests/integration/test_monitor_db.py. */
#include "monitor/db.h"

#include "testing.h"

static void test_table_names(void)
{
    rp_error err;
    static const char *const good[] = {"ridepred_monitor",
                                       "_",
                                       "a",
                                       "A9_b",
                                       "user",
                                       "a23456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(rp__monitor_db_check_table(good[i], &err) == 0);
    static const char *const bad[] = {"",
                                      "9a",
                                      "a-b",
                                      "a b",
                                      "a;drop table x",
                                      "a\"b",
                                      "public.t",
                                      "na\xc3\xafve",
                                      "a234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.code = RP_OK;
        CHECK(rp__monitor_db_check_table(bad[i], &err) == -1);
        CHECK(err.code == RP_ERR_INVALID);
        CHECK(strstr(err.msg, "bad monitoring table name") != NULL);
    }
}

static void test_timestamps(void)
{
    char b[32];
    CHECK_STR(rp__monitor_db_timestamp(0, b), "1970-01-01 00:00:00.000000");
    CHECK_STR(rp__monitor_db_timestamp(INT64_C(1614556800000000), b), "2021-03-01 00:00:00.000000");
    CHECK_STR(rp__monitor_db_timestamp(INT64_C(1614556801234567), b), "2021-03-01 00:00:01.234567");
    CHECK_STR(rp__monitor_db_timestamp(-1, b), "1969-12-31 23:59:59.999999");
    CHECK_STR(rp__monitor_db_timestamp(-1000000, b), "1969-12-31 23:59:59.000000");
    CHECK_STR(rp__monitor_db_timestamp(INT64_C(253402300799999999), b), "9999-12-31 23:59:59.999999");
}

static void test_open_refusals(void)
{
    rp_error err;
    rp__monitor_db *db = (rp__monitor_db *)&err; /* set to NULL on failure */
    CHECK(rp__monitor_db_open("postgresql://u:pw@127.0.0.1:1/x", "bad-name", &db, &err) == -1);
    CHECK(db == NULL && err.code == RP_ERR_INVALID && strstr(err.msg, "bad-name") != NULL);
    CHECK(strstr(err.msg, "pw@") == NULL);
    CHECK(rp__monitor_db_open("", NULL, &db, &err) == -1);
    CHECK(db == NULL && err.code == RP_ERR_INVALID && strstr(err.msg, "RIDEPRED_MONITOR_DB") != NULL);
    CHECK(rp__monitor_db_open(NULL, NULL, &db, &err) == -1);
    CHECK(db == NULL && err.code == RP_ERR_INVALID);
    rp__monitor_db_close(NULL);
}

int main(void)
{
    test_table_names();
    test_timestamps();
    test_open_refusals();
    return rp_t_done();
}
