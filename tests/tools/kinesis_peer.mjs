#!/usr/bin/env node
// kinesis_peer.mjs PEER [options]
//
// Test tooling only: starts a Kinesis test peer from the npm registry on
// 127.0.0.1 (never on every interface), then prints one line
//
//   KINESIS_PEER_READY {"peer": PEER, "host": "127.0.0.1", "port": N, ...}
//
// to stdout once it accepts connections, then one line
//
//   KINESIS_PEER_CONNECTION
//
// per TCP connection accepted on the http port (tests count them to check
// that a client reuses its connection).  Tests redirect stdout to a file and
// wait for the ready line: the peers log to stdout as well.
//
// PEER is
//   kinesalite     kinesalite's Node API (its CLI binds every interface):
//                  http on --port (0: a free port), in memory, or on disk
//                  under --path DIR (LevelDB) so that a restart keeps the data.
//   kinesis-local  kinesis-mock compiled to JavaScript (npm kinesis-local).
//                  It binds 0.0.0.0 on two ports (https and http) with no
//                  option to change the host, so every listen() of this
//                  process is rewritten to 127.0.0.1 before its main.js is
//                  loaded; --port / --tls-port (0: free ports) replace its
//                  4568 / 4567.  Its server.json (the TLS key pair) is read
//                  from the package directory.  The ready line adds
//                  "tls_port".
//
// options:
//   --port N            the http port (default 0: any free port)
//   --tls-port N        kinesis-local's https port (default 0)
//   --path DIR          kinesalite: keep the streams on disk in DIR
//   --create-ms N       CREATING -> ACTIVE delay (default 50)
//   --delete-ms N       DELETING -> gone delay (default 50)
//   --update-ms N       UPDATING -> ACTIVE delay (default 50)
//   --shard-limit N     shards per account (default 100)
//   --watch-stdin       exit when stdin reaches end of file (the test that
//                       started the peer died or closed the pipe)
//
// SIGTERM and SIGINT stop the peer.

import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'

const require = createRequire(import.meta.url)
const HOST = '127.0.0.1'

function usage(message) {
  process.stderr.write(`kinesis_peer.mjs: ${message}\n` +
    'usage: kinesis_peer.mjs kinesalite|kinesis-local [--port N] [--tls-port N] [--path DIR]\n' +
    '       [--create-ms N] [--delete-ms N] [--update-ms N] [--shard-limit N] [--watch-stdin]\n')
  process.exit(2)
}

const argv = process.argv.slice(2)
const peer = argv.shift()
if (peer !== 'kinesalite' && peer !== 'kinesis-local') usage(`unknown peer '${peer ?? ''}'`)
const opt = { port: 0, tlsPort: 0, path: null, createMs: 50, deleteMs: 50, updateMs: 50, shardLimit: 100, watchStdin: false }
const intFlag = (name, v) => {
  if (v === undefined || !/^\d+$/.test(v)) usage(`${name} needs a non-negative integer`)
  return Number(v)
}
while (argv.length) {
  const a = argv.shift()
  switch (a) {
    case '--port': opt.port = intFlag(a, argv.shift()); break
    case '--tls-port': opt.tlsPort = intFlag(a, argv.shift()); break
    case '--path': opt.path = argv.shift() ?? usage('--path needs a directory'); break
    case '--create-ms': opt.createMs = intFlag(a, argv.shift()); break
    case '--delete-ms': opt.deleteMs = intFlag(a, argv.shift()); break
    case '--update-ms': opt.updateMs = intFlag(a, argv.shift()); break
    case '--shard-limit': opt.shardLimit = intFlag(a, argv.shift()); break
    case '--watch-stdin': opt.watchStdin = true; break
    default: usage(`unknown option '${a}'`)
  }
}

function ready(extra) {
  process.stdout.write('KINESIS_PEER_READY ' + JSON.stringify({ peer, host: HOST, ...extra }) + '\n')
}

function countConnections(server) {
  server.on('connection', () => process.stdout.write('KINESIS_PEER_CONNECTION\n'))
}

if (opt.watchStdin) {
  process.stdin.on('data', () => {})
  process.stdin.on('end', () => process.exit(0))
  process.stdin.on('error', () => process.exit(0))
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0))

if (peer === 'kinesalite') {
  const kinesalite = require('kinesalite')
  const server = kinesalite({
    path: opt.path || undefined,
    createStreamMs: opt.createMs,
    deleteStreamMs: opt.deleteMs,
    updateStreamMs: opt.updateMs,
    shardLimit: opt.shardLimit,
  })
  server.on('error', (e) => {
    process.stderr.write(`kinesis_peer.mjs: kinesalite: ${e.message}\n`)
    process.exit(1)
  })
  countConnections(server)
  server.listen(opt.port, HOST, () => ready({ port: server.address().port, path: opt.path }))
} else {
  // kinesis-mock reads its configuration from the environment.  The two
  // ports it is told are placeholders that the listen() hook below maps to
  // the ports asked for here, so that it can tell which is which.
  const PLAIN = 45680, TLS = 45679
  const pkgDir = path.dirname(require.resolve('kinesis-local/package.json'))
  const ms = (n) => `${n}ms`
  Object.assign(process.env, {
    KINESIS_MOCK_PLAIN_PORT: String(PLAIN),
    KINESIS_MOCK_TLS_PORT: String(TLS),
    KINESIS_MOCK_CERT_PATH: path.join(pkgDir, 'server.json'),
    CREATE_STREAM_DURATION: ms(opt.createMs),
    DELETE_STREAM_DURATION: ms(opt.deleteMs),
    UPDATE_SHARD_COUNT_DURATION: ms(opt.updateMs),
    SPLIT_SHARD_DURATION: ms(opt.updateMs),
    MERGE_SHARDS_DURATION: ms(opt.updateMs),
    SHARD_LIMIT: String(opt.shardLimit),
    SHOULD_PERSIST_DATA: 'false',
    LOG_LEVEL: process.env.LOG_LEVEL || 'WARN',
  })
  const bound = {}
  const origListen = net.Server.prototype.listen
  net.Server.prototype.listen = function (...args) {
    // Normalise every form (port, host, backlog, cb) / (options, cb) to
    // (options, cb) with the host forced to loopback.
    let cb = typeof args[args.length - 1] === 'function' ? args.pop() : undefined
    let o
    if (args[0] !== null && typeof args[0] === 'object') {
      o = { ...args[0] }
    } else {
      o = { port: args[0] }
      if (typeof args[1] === 'string') o.host = args[1]
      if (typeof args[1] === 'number') o.backlog = args[1]
      if (typeof args[2] === 'number') o.backlog = args[2]
    }
    if (o.path !== undefined || o.handle !== undefined || o.fd !== undefined) {
      throw new Error('kinesis_peer.mjs: refusing a listen() that is not a TCP port')
    }
    const asked = Number(o.port)
    const role = asked === PLAIN ? 'port' : asked === TLS ? 'tls_port' : null
    if (role === null) throw new Error(`kinesis_peer.mjs: unexpected listen() on port ${o.port}`)
    o.port = role === 'port' ? opt.port : opt.tlsPort
    if (role === 'port') countConnections(this)
    o.host = HOST
    o.ipv6Only = false
    delete o.exclusive
    this.once('listening', () => {
      const a = this.address()
      if (a.address !== HOST) {
        process.stderr.write(`kinesis_peer.mjs: bound ${a.address}, not ${HOST}\n`)
        process.exit(1)
      }
      bound[role] = a.port
      if (bound.port !== undefined && bound.tls_port !== undefined) ready({ ...bound })
    })
    return origListen.call(this, o, cb)
  }
  process.chdir(pkgDir)
  require(path.join(pkgDir, 'main.js'))
}
