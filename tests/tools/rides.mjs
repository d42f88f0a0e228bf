#!/usr/bin/env node
// rides.mjs FILE.parquet [--limit N] [--extra A,B,...]
//
// Test tooling only: an independent Parquet reader (hyparquet, pure JS) for
// the NYC TLC green trip files, used by the parity tests and benchmarks to get
// the same rides the C reader should see.
//
// Prints one JSON array per row, in file order:
//   [pickup_us, dropoff_us, PULocationID, DOLocationID, trip_distance]
// Timestamps are integer microseconds since the epoch (the files store INT64
// TIMESTAMP(MICROS), not UTC-adjusted); nulls are printed as null.
// trip_distance is printed as JavaScript prints a double (shortest round-trip
// digits, so `1` for 1.0): readers must convert it to float themselves.
// --extra A,B appends those columns to each row, in that order (the monitor's
// passenger_count, fare_amount, total_amount: test_monitor_scipy.py).
//
// The files are GZIP-compressed; hyparquet has no built-in GZIP codec, so the
// pages are inflated with Node's own zlib (no extra dependency).

import { gunzipSync } from 'node:zlib'
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from 'hyparquet'

let COLUMNS = [
  'lpep_pickup_datetime',
  'lpep_dropoff_datetime',
  'PULocationID',
  'DOLocationID',
  'trip_distance',
]

function usage(message) {
  if (message) process.stderr.write(`rides.mjs: ${message}\n`)
  process.stderr.write('usage: node rides.mjs FILE.parquet [--limit N]\n')
  process.exit(2)
}

function parseArgs(argv) {
  let file
  let limit
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--limit') {
      const v = argv[++i]
      if (v === undefined || !/^\d+$/.test(v)) usage('--limit needs a non-negative integer')
      limit = Number(v)
    } else if (a.startsWith('--limit=')) {
      const v = a.slice('--limit='.length)
      if (!/^\d+$/.test(v)) usage('--limit needs a non-negative integer')
      limit = Number(v)
    } else if (a === '--extra') {
      const v = argv[++i]
      if (!v) usage('--extra needs column names')
      COLUMNS = COLUMNS.concat(v.split(','))
    } else if (a === '-h' || a === '--help') {
      usage()
    } else if (file === undefined) {
      file = a
    } else {
      usage(`unexpected argument ${a}`)
    }
  }
  if (file === undefined) usage('missing FILE.parquet')
  return { file, limit }
}

/** A JSON value for one cell: BigInt/integers as decimal, null/undefined as null. */
function cell(v) {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return 'null' // not expected in these files
    return JSON.stringify(v)
  }
  throw new Error(`unexpected value type ${typeof v}: ${String(v)}`)
}

async function main() {
  const { file, limit } = parseArgs(process.argv.slice(2))
  const buffer = await asyncBufferFromFile(file)
  const metadata = await parquetMetadataAsync(buffer)
  const total = Number(metadata.num_rows)
  const rowEnd = limit === undefined ? total : Math.min(limit, total)
  if (rowEnd === 0) return

  const schemaNames = new Set(metadata.schema.map(e => e.name))
  for (const c of COLUMNS) {
    if (!schemaNames.has(c)) throw new Error(`${file}: no column ${c}`)
  }

  let rows
  await parquetRead({
    file: buffer,
    metadata,
    columns: COLUMNS,
    rowStart: 0,
    rowEnd,
    rowFormat: 'object',
    compressors: {
      GZIP: (input, outputLength) => {
        const out = gunzipSync(input)
        if (out.length !== outputLength) {
          throw new Error(`gzip page inflated to ${out.length} bytes, header says ${outputLength}`)
        }
        return new Uint8Array(out.buffer, out.byteOffset, out.length)
      },
    },
    // Keep INT64 timestamps as exact BigInt microseconds instead of Dates.
    parsers: {
      timestampFromMicroseconds: micros => BigInt(micros),
      timestampFromMilliseconds: millis => BigInt(millis) * 1000n,
      timestampFromNanoseconds: nanos => BigInt(nanos) / 1000n,
    },
    onComplete: data => { rows = data },
  })
  if (!rows || rows.length !== rowEnd) {
    throw new Error(`${file}: read ${rows ? rows.length : 0} rows, expected ${rowEnd}`)
  }

  // Write in chunks: one write per row would be slow.
  const out = []
  let pending = 0
  const flush = () => new Promise(resolve => {
    if (out.length === 0) return resolve()
    const text = out.join('')
    out.length = 0
    pending = 0
    if (process.stdout.write(text)) resolve()
    else process.stdout.once('drain', resolve)
  })
  for (const r of rows) {
    out.push('[' + COLUMNS.map(c => cell(r[c])).join(', ') + ']\n')
    if (++pending >= 8192) await flush()
  }
  await flush()
}

main().catch(err => {
  process.stderr.write(`rides.mjs: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
