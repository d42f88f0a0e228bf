#!/usr/bin/env node
// parquet_gen.mjs OUTDIR [--rows N]
//
// Test tooling only: writes Parquet files with an independent writer
// (parquet-wasm: arrow-rs compiled to WebAssembly, tables built with
// apache-arrow) in every codec, encoding, page version, timestamp unit and
// null pattern ridepred's reader supports, and in a few it refuses, plus
// the values that were written.  tests/integration/test_parquet.py reads
// them back with build/parquet_dump and compares.
//
// OUTDIR/manifest.json lists the files:
//   {"file": F, "kind": "columns", "columns": [...], "expected": E}   E: JSON lines, one array per row
//   {"file": F, "kind": "trips", "expected": E}                        rows as parquet_dump --trips prints
//   {"file": F, "kind": "columns"|"trips", "columns": [...], "error": TEXT}  must be refused, naming TEXT
// Expected JSON: integers (BigInt too) as decimals, doubles in shortest
// round-trip form (NaN, Infinity, -Infinity as bare words), strings as JSON
// strings, null for nulls.

import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'

const args = process.argv.slice(2)
if (args.length < 1 || args[0].startsWith('-')) {
  process.stderr.write('usage: node parquet_gen.mjs OUTDIR [--rows N]\n')
  process.exit(2)
}
const outDir = args[0]
const ri = args.indexOf('--rows')
const N = ri >= 0 ? Number(args[ri + 1]) : 3000
mkdirSync(outDir, { recursive: true })

// ---- deterministic random values ------------------------------------------
let seed = 20210101
function rnd() { // mulberry32
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const rint = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1)) // inclusive
const r64 = () => (BigInt(Math.floor(rnd() * 2 ** 32)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32))
const maybeNull = (p, f) => () => (rnd() < p ? null : f())
const ALPHABET = ['a', 'b', 'z', 'Q', '0', ' ', ',', '"', '\n', '\\', 'é', '€', '🚕', '\t']
const rstr = () => { let s = ''; const n = rint(0, 12); for (let i = 0; i < n; i++) s += ALPHABET[rint(0, ALPHABET.length - 1)]; return s }
const CATS = ['Manhattan', 'Brooklyn', 'Queens', 'Bronx', 'Staten Island', 'EWR', 'Unknown']

// ---- building Arrow columns with explicit nullability -------------------------
function bitmap(values) {
  const bm = new Uint8Array(Math.ceil(values.length / 8))
  values.forEach((v, i) => { if (v !== null) bm[i >> 3] |= 1 << (i & 7) })
  return bm
}

/** Arrow Data for values (JS numbers, BigInts, booleans or strings; null = null). */
function data(type, values) {
  const length = values.length
  const nullCount = values.filter(v => v === null).length
  const nullBitmap = nullCount ? bitmap(values) : undefined
  if (type instanceof arrow.Utf8) {
    const enc = new TextEncoder()
    const parts = values.map(v => enc.encode(v === null ? '' : v))
    const valueOffsets = new Int32Array(length + 1)
    parts.forEach((p, i) => { valueOffsets[i + 1] = valueOffsets[i] + p.length })
    const bytes = new Uint8Array(valueOffsets[length])
    parts.forEach((p, i) => bytes.set(p, valueOffsets[i]))
    return arrow.makeData({ type, length, nullCount, nullBitmap, valueOffsets, data: bytes })
  }
  if (type instanceof arrow.Bool) {
    const bits = new Uint8Array(Math.ceil(length / 8))
    values.forEach((v, i) => { if (v) bits[i >> 3] |= 1 << (i & 7) })
    return arrow.makeData({ type, length, nullCount, nullBitmap, data: bits })
  }
  const Arr = type.ArrayType
  const big = Arr === BigInt64Array || Arr === BigUint64Array
  const arr = new Arr(length)
  values.forEach((v, i) => { arr[i] = v === null ? (big ? 0n : 0) : v })
  return arrow.makeData({ type, length, nullCount, nullBitmap, data: arr })
}

/** cols: [{name, type, nullable, values}] -> arrow Table */
function table(cols) {
  const fields = cols.map(c => new arrow.Field(c.name, c.type, c.nullable))
  const length = cols.length ? cols[0].values.length : 0
  const struct = arrow.makeData({
    type: new arrow.Struct(fields), length, nullCount: 0,
    children: cols.map(c => c.data || data(c.type, c.values)),
  })
  return new arrow.Table(new arrow.RecordBatch(new arrow.Schema(fields), struct))
}

function writeParquet(file, tbl, configure) {
  let b = new pw.WriterPropertiesBuilder()
  if (configure) b = configure(b)
  const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(tbl, 'stream'))
  writeFileSync(join(outDir, file), pw.writeParquet(wasmTable, b.build()))
}

function cell(v) {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN'
    if (v === Infinity) return 'Infinity'
    if (v === -Infinity) return '-Infinity'
    return JSON.stringify(v)
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  return JSON.stringify(v)
}

function writeExpected(file, columns) {
  const n = columns.length ? columns[0].length : 0
  const lines = []
  for (let i = 0; i < n; i++) lines.push('[' + columns.map(c => cell(c[i])).join(', ') + ']\n')
  writeFileSync(join(outDir, file), lines.join(''))
}

const manifest = []

// ---- the general table ------------------------------------------------------------
const gen = (n, f) => Array.from({ length: n }, f)
const specialDoubles = [NaN, Infinity, -Infinity, 0, -1.5e-310, 1.7976931348623157e308, 0.1]
const base = [
  { name: 'i32', type: new arrow.Int32(), nullable: true, values: gen(N, maybeNull(0.1, () => rint(-(2 ** 31), 2 ** 31 - 1))) },
  { name: 'i32_req', type: new arrow.Int32(), nullable: false, values: gen(N, () => rint(-1000, 1000)) },
  { name: 'i64', type: new arrow.Int64(), nullable: true, values: gen(N, maybeNull(0.2, () => BigInt.asIntN(64, r64()))) },
  { name: 'f32', type: new arrow.Float32(), nullable: true, values: gen(N, maybeNull(0.05, () => Math.fround((rnd() - 0.5) * 1e6))) },
  { name: 'f64', type: new arrow.Float64(), nullable: true,
    values: gen(N, maybeNull(0.1, () => (rnd() < 0.05 ? specialDoubles[rint(0, specialDoubles.length - 1)] : (rnd() - 0.5) * 10 ** rint(-20, 20)))) },
  { name: 'str', type: new arrow.Utf8(), nullable: true, values: gen(N, maybeNull(0.15, rstr)) },
  { name: 'cat', type: new arrow.Utf8(), nullable: false, values: gen(N, () => CATS[rint(0, CATS.length - 1)]) },
  { name: 'loc', type: new arrow.Int32(), nullable: false, values: gen(N, () => rint(1, 265)) },
  { name: 'flag', type: new arrow.Bool(), nullable: true, values: gen(N, maybeNull(0.3, () => rnd() < 0.5)) },
  { name: 'flag_req', type: new arrow.Bool(), nullable: false, values: gen(N, () => rnd() < 0.2) },
  { name: 'ts_ms', type: new arrow.TimestampMillisecond(), nullable: true,
    values: gen(N, maybeNull(0.1, () => BigInt(rint(-2e12, 4e12)))) },
  { name: 'ts_us', type: new arrow.TimestampMicrosecond('UTC'), nullable: true,
    values: gen(N, maybeNull(0.1, () => BigInt(rint(-2e12, 4e12)) * 1000n + BigInt(rint(0, 999)))) },
  { name: 'ts_ns', type: new arrow.TimestampNanosecond(), nullable: true,
    values: gen(N, maybeNull(0.1, () => BigInt(rint(-2e12, 4e12)) * 1000000n + BigInt(rint(0, 999999)))) },
  { name: 'i8', type: new arrow.Int8(), nullable: true, values: gen(N, maybeNull(0.1, () => rint(-128, 127))) },
  { name: 'u16', type: new arrow.Uint16(), nullable: false, values: gen(N, () => rint(0, 65535)) },
  { name: 'u32', type: new arrow.Uint32(), nullable: true, values: gen(N, maybeNull(0.1, () => rint(0, 2 ** 32 - 1))) },
  { name: 'u64', type: new arrow.Uint64(), nullable: true, values: gen(N, maybeNull(0.1, () => r64())) },
]
// The first rows of a few columns are all null, and one column is null throughout.
for (let i = 0; i < 70 && i < N; i++) base[0].values[i] = null
base.push({ name: 'all_null', type: new arrow.Float64(), nullable: true, values: gen(N, () => null) })
const baseTable = table(base)
const baseNames = base.map(c => c.name)
writeExpected('base.expected.jsonl', base.map(c => c.values))

const CODECS = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD']
for (const codec of CODECS) {
  for (const dict of [true, false]) {
    for (const version of ['V1', 'V2']) {
      const file = `base-${codec.toLowerCase()}-${dict ? 'dict' : 'plain'}-${version.toLowerCase()}.parquet`
      writeParquet(file, baseTable, b => b
        .setCompression(pw.Compression[codec])
        .setDictionaryEnabled(dict)
        .setWriterVersion(pw.WriterVersion[version])
        .setMaxRowGroupSize(1000)          // several row groups
        .setDataPageSizeLimit(512)         // several pages per chunk
        .setWriteBatchSize(64)
        .setDictionaryPageSizeLimit(dict ? 2048 : 1024 * 1024) // big dictionaries fall back to PLAIN mid-chunk
        // arrow-rs's V2 default for non-dictionary pages is DELTA_* (refused,
        // tested below): ask for PLAIN, and RLE for booleans
        .setEncoding(pw.Encoding.PLAIN)
        .setColumnEncoding('flag', version === 'V2' ? pw.Encoding.RLE : pw.Encoding.PLAIN)
        .setColumnEncoding('flag_req', version === 'V2' ? pw.Encoding.RLE : pw.Encoding.PLAIN))
      manifest.push({ file, kind: 'columns', columns: baseNames, expected: 'base.expected.jsonl' })
    }
  }
}
writeParquet('base-default.parquet', baseTable, b => b.setCompression(pw.Compression.GZIP))
manifest.push({ file: 'base-default.parquet', kind: 'columns', columns: baseNames, expected: 'base.expected.jsonl' })

// No rows at all.
const empty = base.slice(0, 3).map(c => ({ ...c, values: [] }))
writeParquet('empty.parquet', table(empty))
writeExpected('empty.expected.jsonl', empty.map(c => c.values))
manifest.push({ file: 'empty.parquet', kind: 'columns', columns: empty.map(c => c.name), expected: 'empty.expected.jsonl' })

// ---- refused ------------------------------------------------------------------------
const small = table(base.slice(0, 6).map(c => ({ ...c, values: c.values.slice(0, 200) })))
for (const codec of ['BROTLI', 'LZ4', 'LZ4_RAW']) {
  const file = `refuse-${codec.toLowerCase()}.parquet`
  writeParquet(file, small, b => b.setCompression(pw.Compression[codec]))
  manifest.push({ file, kind: 'columns', columns: ['i32'], error: codec === 'LZ4' ? 'codec LZ4 ' : codec })
}
for (const [enc, col] of [['DELTA_BINARY_PACKED', 'i64'], ['DELTA_LENGTH_BYTE_ARRAY', 'str'],
  ['DELTA_BYTE_ARRAY', 'str'], ['BYTE_STREAM_SPLIT', 'f64']]) {
  const file = `refuse-${enc.toLowerCase()}.parquet`
  writeParquet(file, small, b => b.setDictionaryEnabled(false).setColumnEncoding(col, pw.Encoding[enc]))
  manifest.push({ file, kind: 'columns', columns: [col], error: enc })
}
{
  // Nested: a list and a struct next to a flat column that stays readable.
  const n = 50
  const flat = gen(n, (_, i) => i * 7)
  const child = data(new arrow.Int32(), gen(n * 2, (_, i) => i))
  const offsets = new Int32Array(n + 1).map((_, i) => i * 2)
  const nested = table([
    { name: 'flat', type: new arrow.Int32(), nullable: false, values: flat },
    { name: 'l', type: new arrow.List(new arrow.Field('item', new arrow.Int32(), true)), nullable: true,
      data: arrow.makeData({ type: new arrow.List(new arrow.Field('item', new arrow.Int32(), true)), length: n, nullCount: 0, valueOffsets: offsets, child }) },
    { name: 's', type: new arrow.Struct([new arrow.Field('x', new arrow.Int32(), true)]), nullable: true,
      data: arrow.makeData({ type: new arrow.Struct([new arrow.Field('x', new arrow.Int32(), true)]), length: n, nullCount: 0, children: [data(new arrow.Int32(), flat)] }) },
  ])
  writeParquet('nested.parquet', nested)
  writeExpected('nested.expected.jsonl', [flat])
  manifest.push({ file: 'nested.parquet', kind: 'columns', columns: ['flat'], expected: 'nested.expected.jsonl' })
  manifest.push({ file: 'nested.parquet', kind: 'columns', columns: ['l.list.item'], error: 'nested' })
  manifest.push({ file: 'nested.parquet', kind: 'columns', columns: ['s.x'], error: 'nested' })
}

// ---- trip files in other shapes -----------------------------------------------------------
function floorDiv(a, b) { const q = a / b; return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q }
const T = 2500
{
  // green names, nanoseconds (sub-microsecond parts, times before 1970), Int32 / Int64 ids, float distance
  const pick = gen(T, maybeNull(0.05, () => BigInt(rint(-1e12, 2e12)) * 1000000n + BigInt(rint(0, 999999))))
  const drop = pick.map(v => (v === null ? null : v + BigInt(rint(0, 3600e9))))
  const pu = gen(T, maybeNull(0.05, () => rint(1, 265)))
  const dor = gen(T, maybeNull(0.05, () => BigInt(rint(1, 265))))
  const dist = gen(T, maybeNull(0.05, () => Math.fround(rnd() * 30)))
  writeParquet('trips-ns.parquet', table([
    { name: 'lpep_pickup_datetime', type: new arrow.TimestampNanosecond(), nullable: true, values: pick },
    { name: 'lpep_dropoff_datetime', type: new arrow.TimestampNanosecond(), nullable: true, values: drop },
    { name: 'PULocationID', type: new arrow.Int32(), nullable: true, values: pu },
    { name: 'DOLocationID', type: new arrow.Int64(), nullable: true, values: dor },
    { name: 'trip_distance', type: new arrow.Float32(), nullable: true, values: dist },
  ]), b => b.setCompression(pw.Compression.SNAPPY).setMaxRowGroupSize(700))
  const us = v => (v === null ? null : floorDiv(v, 1000n))
  writeExpected('trips-ns.expected.jsonl', [pick.map(us), drop.map(us), pu, dor, dist])
  manifest.push({ file: 'trips-ns.parquet', kind: 'trips', expected: 'trips-ns.expected.jsonl' })
}
{
  // yellow names, milliseconds (UTC), DOUBLE ids with NaN for null, UINT16 ids, INT32 distance
  const pick = gen(T, maybeNull(0.05, () => BigInt(rint(0, 2e12))))
  const drop = pick.map(v => (v === null ? null : v + BigInt(rint(0, 3600e3))))
  const pu = gen(T, () => (rnd() < 0.05 ? NaN : rnd() < 0.05 ? null : rint(1, 265)))
  const dor = gen(T, () => rint(1, 265))
  const dist = gen(T, maybeNull(0.05, () => rint(0, 100)))
  writeParquet('trips-ms.parquet', table([
    { name: 'tpep_pickup_datetime', type: new arrow.TimestampMillisecond('UTC'), nullable: true, values: pick },
    { name: 'tpep_dropoff_datetime', type: new arrow.TimestampMillisecond('UTC'), nullable: true, values: drop },
    { name: 'PULocationID', type: new arrow.Float64(), nullable: true, values: pu },
    { name: 'DOLocationID', type: new arrow.Uint16(), nullable: false, values: dor },
    { name: 'trip_distance', type: new arrow.Int32(), nullable: true, values: dist },
  ]), b => b.setCompression(pw.Compression.ZSTD).setWriterVersion(pw.WriterVersion.V2))
  const us = v => (v === null ? null : v * 1000n)
  writeExpected('trips-ms.expected.jsonl', [pick.map(us), drop.map(us), pu.map(v => (Number.isNaN(v) ? null : v)), dor, dist])
  manifest.push({ file: 'trips-ms.parquet', kind: 'trips', expected: 'trips-ms.expected.jsonl' })
}
{
  // FHV names, microseconds, Int64 ids, double distance, several row groups, plain pages
  const pick = gen(T, () => BigInt(rint(0, 2e12)) * 1000n + BigInt(rint(0, 999)))
  const drop = pick.map(v => v + BigInt(rint(0, 3600e6)))
  const pu = gen(T, maybeNull(0.1, () => BigInt(rint(1, 265))))
  const dor = gen(T, maybeNull(0.1, () => BigInt(rint(1, 265))))
  const dist = gen(T, () => rnd() * 50)
  writeParquet('trips-fhv.parquet', table([
    { name: 'dispatching_base_num', type: new arrow.Utf8(), nullable: true, values: gen(T, () => 'B00013') },
    { name: 'pickup_datetime', type: new arrow.TimestampMicrosecond(), nullable: false, values: pick },
    { name: 'dropOff_datetime', type: new arrow.TimestampMicrosecond(), nullable: false, values: drop },
    { name: 'PUlocationID', type: new arrow.Int64(), nullable: true, values: pu },
    { name: 'DOlocationID', type: new arrow.Int64(), nullable: true, values: dor },
    { name: 'trip_distance', type: new arrow.Float64(), nullable: false, values: dist },
  ]), b => b.setCompression(pw.Compression.UNCOMPRESSED).setDictionaryEnabled(false).setMaxRowGroupSize(600))
  writeExpected('trips-fhv.expected.jsonl', [pick, drop, pu, dor, dist])
  manifest.push({ file: 'trips-fhv.parquet', kind: 'trips', expected: 'trips-fhv.expected.jsonl' })
}
{
  const five = (over) => table([
    { name: 'lpep_pickup_datetime', type: new arrow.TimestampMicrosecond(), nullable: true, values: [1n, 2n] },
    { name: 'lpep_dropoff_datetime', type: new arrow.TimestampMicrosecond(), nullable: true, values: [3n, 4n] },
    { name: 'PULocationID', type: new arrow.Int64(), nullable: true, values: [1n, 2n] },
    { name: 'DOLocationID', type: new arrow.Int64(), nullable: true, values: [1n, 2n] },
    { name: 'trip_distance', type: new arrow.Float64(), nullable: true, values: [1.5, 2.5] },
  ].map(c => over[c.name] === undefined ? c : over[c.name]).filter(c => c !== null))
  writeParquet('trips-bad-id.parquet', five({ PULocationID: { name: 'PULocationID', type: new arrow.Int64(), nullable: true, values: [1n, 1n << 40n] } }))
  manifest.push({ file: 'trips-bad-id.parquet', kind: 'trips', error: '1099511627776 does not fit a location id' })
  writeParquet('trips-bad-time.parquet', five({ lpep_pickup_datetime: { name: 'lpep_pickup_datetime', type: new arrow.Int64(), nullable: true, values: [1n, 2n] } }))
  manifest.push({ file: 'trips-bad-time.parquet', kind: 'trips', error: 'INT64 without a TIMESTAMP annotation' })
  writeParquet('trips-string-distance.parquet', five({ trip_distance: { name: 'trip_distance', type: new arrow.Utf8(), nullable: true, values: ['1', '2'] } }))
  manifest.push({ file: 'trips-string-distance.parquet', kind: 'trips', error: 'trip_distance is BYTE_ARRAY: expected a number' })
  writeParquet('trips-no-distance.parquet', five({ trip_distance: null }))
  manifest.push({ file: 'trips-no-distance.parquet', kind: 'trips', error: 'no column trip_distance' })
}

writeFileSync(join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n')
process.stderr.write(`parquet_gen.mjs: ${manifest.length} cases in ${outDir}\n`)
