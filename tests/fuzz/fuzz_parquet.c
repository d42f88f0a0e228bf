/* libFuzzer target: the Parquet reader (footer, schema, pages, codecs,
 * encodings) and the trip readers on any bytes.  Input starting with
 * "PAR1" is opened as a Parquet file in memory, every column is read and
 * then the five trip columns; anything else is read as trip CSV.  Limits
 * are lowered so that a claimed size cannot exhaust the fuzzer's memory. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "data/parquet.h"
#include "data/trips.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_error err;
    rp__trips t;
    if (size >= 4 && memcmp(data, "PAR1", 4) == 0) {
        rp__parquet *p;
        if (rp__parquet_open_mem(data, size, "fuzz", &p, &err) < 0)
            return 0;
        rp__parquet_set_limits(
            p, &(rp__parquet_limits){.max_page_bytes = (size_t)8 << 20, .max_bytes = (size_t)64 << 20});
        size_t n = rp__parquet_num_columns(p);
        for (size_t i = 0; i < n && i < 64; i++) {
            rp__parquet_values v;
            if (rp__parquet_read_column(p, i, 100000, &v, &err) == 0)
                rp__parquet_values_free(&v);
        }
        if (rp__trips_from_parquet(p, 100000, &t, &err) == 0) {
            double d;
            for (size_t i = 0; i < t.n; i++)
                rp__trips_keep(&t, i, &d);
            rp__trips_free(&t);
        }
        rp__parquet_close(p);
        return 0;
    }
    if (rp__trips_read_csv_mem((const char *)data, size, "fuzz.csv", 100000, &t, &err) == 0)
        rp__trips_free(&t);
    return 0;
}
