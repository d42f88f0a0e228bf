#!/usr/bin/env node
// dynamodb_peer.mjs [options]
//
// Test tooling only: starts dynalite (npm dynalite: DynamoDB's API on
// LevelDB, in memory unless --path) through its Node API on 127.0.0.1
// (never on every interface, which its CLI binds), then prints one line
//
//   DYNAMODB_PEER_READY {"peer": "dynalite", "host": "127.0.0.1", "port": N, "path": DIR|null}
//
// to stdout once it accepts connections, then one line
//
//   DYNAMODB_PEER_CONNECTION
//
// per TCP connection accepted (tests count them to check that a client
// reuses its connection).  Tests redirect stdout to a file or read it, and
// wait for the ready line.
//
// Outages: stop the process (SIGTERM, or close its stdin with
// --watch-stdin) and start it again with the same --port and --path: the
// tables and items come back, on the same endpoint.
//
// options:
//   --port N            the port (default 0: any free port)
//   --path DIR          keep the tables on disk in DIR (LevelDB), so that a
//                       restart keeps them; default: in memory
//   --create-ms N       CREATING -> ACTIVE delay (default 50; dynalite's is 500)
//   --delete-ms N       DELETING -> gone delay (default 50)
//   --update-ms N       UPDATING -> ACTIVE delay (default 50)
//   --watch-stdin       exit when stdin reaches end of file (the test that
//                       started the peer died or closed the pipe)
//
// SIGTERM and SIGINT stop the peer (closing the store first, so that a
// restart on the same --path finds it unlocked).

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const HOST = '127.0.0.1'

function usage(message) {
  process.stderr.write(`dynamodb_peer.mjs: ${message}\n` +
    'usage: dynamodb_peer.mjs [--port N] [--path DIR] [--create-ms N] [--delete-ms N] [--update-ms N]\n' +
    '       [--watch-stdin]\n')
  process.exit(2)
}

const argv = process.argv.slice(2)
const opt = { port: 0, path: null, createMs: 50, deleteMs: 50, updateMs: 50, watchStdin: false }
const intFlag = (name, v) => {
  if (v === undefined || !/^\d+$/.test(v)) usage(`${name} needs a non-negative integer`)
  return Number(v)
}
while (argv.length) {
  const a = argv.shift()
  switch (a) {
    case '--port': opt.port = intFlag(a, argv.shift()); break
    case '--path': opt.path = argv.shift() ?? usage('--path needs a directory'); break
    case '--create-ms': opt.createMs = intFlag(a, argv.shift()); break
    case '--delete-ms': opt.deleteMs = intFlag(a, argv.shift()); break
    case '--update-ms': opt.updateMs = intFlag(a, argv.shift()); break
    case '--watch-stdin': opt.watchStdin = true; break
    default: usage(`unknown option '${a}'`)
  }
}

const dynalite = require('dynalite')
const server = dynalite({
  path: opt.path || undefined,
  createTableMs: opt.createMs,
  deleteTableMs: opt.deleteMs,
  updateTableMs: opt.updateMs,
})

// Stops at most once: closes the listener and the store (dynalite's close
// does both), then exits; a store that does not close within 5 s is left.
let stopping = false
function stop() {
  if (stopping) return
  stopping = true
  setTimeout(() => process.exit(0), 5000).unref()
  server.closeAllConnections?.()
  server.close(() => process.exit(0))
}

if (opt.watchStdin) {
  process.stdin.on('data', () => {})
  process.stdin.on('end', stop)
  process.stdin.on('error', stop)
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, stop)

server.on('error', (e) => {
  process.stderr.write(`dynamodb_peer.mjs: dynalite: ${e.message}\n`)
  process.exit(1)
})
server.on('connection', () => process.stdout.write('DYNAMODB_PEER_CONNECTION\n'))
server.listen(opt.port, HOST, () => {
  const a = server.address()
  if (a.address !== HOST) {
    process.stderr.write(`dynamodb_peer.mjs: bound ${a.address}, not ${HOST}\n`)
    process.exit(1)
  }
  process.stdout.write('DYNAMODB_PEER_READY ' +
    JSON.stringify({ peer: 'dynalite', host: HOST, port: a.port, path: opt.path }) + '\n')
})
