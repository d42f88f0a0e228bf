#!/usr/bin/env node
// parquet_read.mjs FILE --reader hyparquet|parquet-wasm
//
// Test tooling only: reads a Parquet file with an independent reader and
// prints, as one JSON object, what it sees, for
// tests/integration/test_parquet_write.py:
//   {"reader", "num_rows", "created_by",
//    "schema": [{"name", "physical", "logical", "unit", "utc", "converted", "optional"}],
//    "row_groups": [{"num_rows", "columns": [{"codec", "encodings", "num_values",
//                                            "null_count", "min", "max"}]}],
//    "columns": {NAME: [values]}}
// Values: integers and timestamps (raw, in their unit) as decimal strings,
// doubles as "0x" + 16 hex digits of their bits ("NaN" for any NaN),
// strings as strings, nulls as null.  hyparquet gives the footer's
// schema, converted types and statistics (min / max in the same forms);
// parquet-wasm (arrow-rs) gives Arrow types ("logical": "Utf8",
// "Timestamp", ...; "unit", "utc" from the Arrow type), codecs and
// encodings of each chunk, and no statistics (null there).
//
// hyparquet has no GZIP or ZSTD codec of its own: pages are inflated with
// Node's zlib and the zstd command (Debian's zstd package).

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

const args = process.argv.slice(2)
const ri = args.indexOf('--reader')
const reader = ri >= 0 ? args[ri + 1] : undefined
const file = args.find((a, i) => !a.startsWith('--') && (ri < 0 || i !== ri + 1))
if (!file || !['hyparquet', 'parquet-wasm'].includes(reader)) {
  process.stderr.write('usage: node parquet_read.mjs FILE --reader hyparquet|parquet-wasm\n')
  process.exit(2)
}
const bytes = readFileSync(file)

function doubleBits(x) {
  if (Number.isNaN(x)) return 'NaN'
  const dv = new DataView(new ArrayBuffer(8))
  dv.setFloat64(0, x, true)
  return '0x' + dv.getBigUint64(0, true).toString(16).padStart(16, '0')
}

const raw = v => String(v) // timestamps kept in their unit

function cell(v, physical) {
  if (v === null || v === undefined) return null
  if (physical === 'DOUBLE' || physical === 'FLOAT') return doubleBits(v)
  if (typeof v === 'bigint' || typeof v === 'number') return String(v)
  if (v instanceof Uint8Array) return Array.from(v)
  return v
}

async function hyparquet() {
  const { parquetMetadata, parquetReadObjects } = await import('hyparquet')
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)
  const parsers = { timestampFromMilliseconds: raw, timestampFromMicroseconds: raw, timestampFromNanoseconds: raw }
  const md = parquetMetadata(ab, { parsers })
  const leaves = md.schema.slice(1)
  const schema = leaves.map(e => ({
    name: e.name,
    physical: e.type,
    logical: e.logical_type ? e.logical_type.type : null,
    unit: e.logical_type && e.logical_type.unit ? e.logical_type.unit : null,
    utc: e.logical_type && 'isAdjustedToUTC' in e.logical_type ? e.logical_type.isAdjustedToUTC : null,
    converted: e.converted_type ?? null,
    optional: e.repetition_type === 'OPTIONAL',
  }))
  const row_groups = md.row_groups.map(g => ({
    num_rows: Number(g.num_rows),
    columns: g.columns.map((c, i) => {
      const m = c.meta_data
      const st = m.statistics || {}
      return {
        codec: m.codec,
        encodings: m.encodings,
        num_values: Number(m.num_values),
        null_count: st.null_count === undefined ? null : Number(st.null_count),
        min: cell(st.min_value, schema[i].physical),
        max: cell(st.max_value, schema[i].physical),
      }
    }),
  }))
  const compressors = {
    GZIP: (input, outputLength) => new Uint8Array(gunzipSync(input)).subarray(0, outputLength),
    ZSTD: (input, outputLength) =>
      new Uint8Array(execFileSync('zstd', ['-d', '-c', '-q'], { input, maxBuffer: 1 << 30 })).subarray(0, outputLength),
  }
  const rows = await parquetReadObjects({ file: ab, compressors, parsers, rowFormat: 'object' })
  const columns = {}
  schema.forEach(s => { columns[s.name] = rows.map(r => cell(r[s.name], s.physical)) })
  return { reader: 'hyparquet', num_rows: Number(md.num_rows), created_by: md.created_by ?? null, schema, row_groups, columns }
}

async function parquetWasm() {
  const pw = await import('parquet-wasm/node')
  const arrow = await import('apache-arrow')
  const table = arrow.tableFromIPC(pw.readParquet(new Uint8Array(bytes)).intoIPCStream())
  const units = { 0: 'SECONDS', 1: 'MILLIS', 2: 'MICROS', 3: 'NANOS' }
  const schema = table.schema.fields.map(f => {
    const t = f.type
    const ts = arrow.DataType.isTimestamp(t)
    return {
      name: f.name,
      physical: arrow.DataType.isFloat(t) ? 'DOUBLE' : null,
      logical: ts ? 'Timestamp' : arrow.DataType.isUtf8(t) || arrow.DataType.isLargeUtf8?.(t) ? 'Utf8'
        : arrow.DataType.isInt(t) ? `Int${t.bitWidth}` : arrow.DataType.isFloat(t) ? 'Float64' : String(t),
      unit: ts ? units[t.unit] : null,
      utc: ts ? t.timezone !== null && t.timezone !== undefined : null,
      converted: null,
      optional: f.nullable,
    }
  })
  const columns = {}
  table.schema.fields.forEach((f, i) => {
    const vec = table.getChildAt(i)
    const out = []
    for (const d of vec.data) {
      for (let j = 0; j < d.length; j++) {
        if (!d.getValid(j)) { out.push(null); continue }
        const t = f.type
        if (arrow.DataType.isTimestamp(t) || (arrow.DataType.isInt(t) && t.bitWidth === 64)) {
          const vals = d.values
          if (vals instanceof BigInt64Array) out.push(String(vals[d.offset + j]))
          else out.push(String(BigInt.asIntN(64, (BigInt(vals[2 * (d.offset + j) + 1]) << 32n) |
            BigInt(vals[2 * (d.offset + j)] >>> 0))))
        } else if (arrow.DataType.isFloat(t)) {
          out.push(doubleBits(d.values[d.offset + j]))
        } else if (arrow.DataType.isInt(t)) {
          out.push(String(d.values[d.offset + j]))
        } else {
          out.push(vec.get(out.length))
        }
      }
    }
    columns[f.name] = out
  })
  // the footer through parquet-wasm's metadata API
  const pf = await pw.ParquetFile.fromFile(new Blob([bytes]))
  const md = pf.metadata()
  const codecs = { 0: 'UNCOMPRESSED', 1: 'SNAPPY', 2: 'GZIP', 3: 'BROTLI', 4: 'LZ4', 5: 'ZSTD', 6: 'LZ4_RAW', 7: 'LZO' }
  const encs = ['PLAIN', 'PLAIN_DICTIONARY', 'RLE', 'BIT_PACKED', 'DELTA_BINARY_PACKED', 'DELTA_LENGTH_BYTE_ARRAY',
    'DELTA_BYTE_ARRAY', 'RLE_DICTIONARY', 'BYTE_STREAM_SPLIT']
  const row_groups = md.rowGroups().map(g => ({
    num_rows: Number(g.numRows()),
    columns: g.columns().map(c => ({
      codec: codecs[c.compression()],
      encodings: c.encodings().map(e => encs[e]),
      num_values: Number(c.numValues()),
      null_count: null,
      min: null,
      max: null,
    })),
  }))
  const fmd = md.fileMetadata()
  return {
    reader: 'parquet-wasm', num_rows: Number(fmd.numRows()), created_by: fmd.createdBy() ?? null,
    schema, row_groups, columns,
  }
}

const result = reader === 'hyparquet' ? await hyparquet() : await parquetWasm()
process.stdout.write(JSON.stringify(result) + '\n')
