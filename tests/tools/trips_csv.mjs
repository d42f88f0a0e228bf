#!/usr/bin/env node
// trips_csv.mjs FILE.parquet OUT.csv[.gz]
//
// Test tooling only: writes a TLC Parquet file as CSV the way the TLC once
// published them (a header line, "YYYY-MM-DD HH:MM:SS" times, empty fields
// for nulls), read with an independent reader (hyparquet).  The CSV uses
// RFC 4180 quoting in all its forms: fields with commas, quotes or line
// breaks quoted (an extra "note" column has them), every field of every
// fifth row quoted, CRLF line ends (LF when gzip'd).  OUT ending in .gz is
// gzip'd.  tests/integration/test_parquet.py checks that ridepred reads the
// same trips from the CSV as from the Parquet file.

import { writeFileSync } from 'node:fs'
import { gunzipSync, gzipSync } from 'node:zlib'
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from 'hyparquet'

const [file, out] = process.argv.slice(2)
if (!file || !out) {
  process.stderr.write('usage: node trips_csv.mjs FILE.parquet OUT.csv[.gz]\n')
  process.exit(2)
}

function iso(us) { // BigInt microseconds -> "YYYY-MM-DD HH:MM:SS[.ffffff]" (the naive time as written)
  let sec = us / 1000000n
  if (sec * 1000000n > us) sec -= 1n // floor for times before 1970
  const frac = us - sec * 1000000n
  const s = new Date(Number(sec) * 1000).toISOString().slice(0, 19).replace('T', ' ')
  return frac === 0n ? s : s + '.' + frac.toString().padStart(6, '0')
}

function field(v, quoteAll) {
  let s
  if (v === null || v === undefined) s = ''
  else if (typeof v === 'bigint' || typeof v === 'number') s = String(v)
  else s = String(v)
  if (quoteAll || /[",\r\n]/.test(s)) return '"' + s.replace(/"/g, '""') + '"'
  return s
}

const buffer = await asyncBufferFromFile(file)
const metadata = await parquetMetadataAsync(buffer)
const columns = metadata.schema.slice(1).map(e => e.name)
const timeCols = new Set(metadata.schema.slice(1).filter(e => e.logical_type?.type === 'TIMESTAMP' ||
  e.converted_type === 'TIMESTAMP_MICROS' || e.converted_type === 'TIMESTAMP_MILLIS').map(e => e.name))
let rows
await parquetRead({
  file: buffer,
  metadata,
  rowFormat: 'object',
  compressors: { GZIP: input => new Uint8Array(gunzipSync(input)) },
  parsers: {
    timestampFromMicroseconds: micros => BigInt(micros),
    timestampFromMilliseconds: millis => BigInt(millis) * 1000n,
    timestampFromNanoseconds: nanos => BigInt(nanos) / 1000n,
  },
  onComplete: data => { rows = data },
})
const gz = out.endsWith('.gz')
const eol = gz ? '\n' : '\r\n'
const notes = ['plain', 'with, comma', 'with "quotes"', 'two\nlines', 'crlf\r\ninside', '', 'trailing space ']
const parts = [columns.map(c => field(c, false)).join(',') + ',note' + eol]
rows.forEach((r, i) => {
  const quoteAll = i % 5 === 0
  const cells = columns.map(c => {
    const v = r[c]
    return field(timeCols.has(c) && v !== null && v !== undefined ? iso(BigInt(v)) : v, quoteAll)
  })
  cells.push(field(notes[i % notes.length], quoteAll))
  parts.push(cells.join(',') + eol)
})
const text = Buffer.from(parts.join(''))
writeFileSync(out, gz ? gzipSync(text) : text)
process.stderr.write(`trips_csv.mjs: ${rows.length} rows, ${columns.length + 1} columns -> ${out}\n`)
