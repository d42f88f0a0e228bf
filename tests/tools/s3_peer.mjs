#!/usr/bin/env node
// s3_peer.mjs --dir DIR [--port N] [--bucket NAME]... [--watch-stdin]
//
// Test tooling only: starts s3rver (npm) on 127.0.0.1 (never on every
// interface), storing its buckets under DIR, and prints one line
//
//   S3_PEER_READY {"host": "127.0.0.1", "port": N}
//
// to stdout once it accepts connections.  s3rver checks SigV4 signatures
// with access key S3RVER / secret S3RVER (and needs x-amz-content-sha256).
// --bucket creates a bucket at start.  --watch-stdin exits when stdin
// reaches end of file (the test that started the peer died).  SIGTERM and
// SIGINT stop the peer.

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const S3rver = require('s3rver')

const args = process.argv.slice(2)
let dir = null
let port = 0
let watchStdin = false
const buckets = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  const value = () => {
    if (i + 1 >= args.length) usage(`${a} needs a value`)
    return args[++i]
  }
  if (a === '--dir') dir = value()
  else if (a === '--port') port = Number(value())
  else if (a === '--bucket') buckets.push({ name: value() })
  else if (a === '--watch-stdin') watchStdin = true
  else usage(`unknown argument ${a}`)
}
if (!dir) usage('--dir is required')
if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be 0..65535')

function usage(message) {
  process.stderr.write(`s3_peer.mjs: ${message}\nusage: s3_peer.mjs --dir DIR [--port N] [--bucket NAME]... [--watch-stdin]\n`)
  process.exit(2)
}

const server = new S3rver({
  address: '127.0.0.1',
  port,
  silent: true,
  directory: dir,
  configureBuckets: buckets,
})

const addr = await server.run()
process.stdout.write(`S3_PEER_READY ${JSON.stringify({ host: addr.address, port: addr.port })}\n`)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  try {
    await server.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
if (watchStdin) {
  process.stdin.on('end', stop)
  process.stdin.resume()
}
