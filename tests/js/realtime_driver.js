// Drives supabase-js (its Realtime client) for the Python tests in tests/realtime/.
//
// Line-delimited JSON on stdin, one command per line:
//   {"cmd": "connect", "url", "key", "token", "vsn"?}
//   {"cmd": "subscribe", "name", "config"?, "postgres"?: [binding...], "presence"?: bool}
//   {"cmd": "track", "name", "payload"}       {"cmd": "untrack", "name"}
//   {"cmd": "send", "name", "event", "payload"}
//   {"cmd": "set_auth", "token"}              {"cmd": "unsubscribe", "name"}
//   {"cmd": "close"}
// Events on stdout, one JSON object per line, as they arrive:
//   {"event": "status", "name", "status", "error"?}   (subscribe callback: SUBSCRIBED, ...)
//   {"event": "postgres_changes", "name", "payload"}  {"event": "broadcast", "name", "payload"}
//   {"event": "presence_sync", "name", "state"}       {"event": "system", "name", "payload"}
//   {"event": "result", "cmd", "name"?, "result"}     {"event": "error", "message"}
'use strict'

const readline = require('node:readline')
const WebSocket = require('ws')
const { createClient } = require('@supabase/supabase-js')

let supabase = null
let token = null
const channels = new Map()

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

async function handle(command) {
  const name = command.name
  switch (command.cmd) {
    case 'connect': {
      token = command.token
      supabase = createClient(command.url, command.key, {
        accessToken: async () => token,
        realtime: {
          transport: WebSocket,
          params: command.vsn ? { vsn: command.vsn } : {},
          heartbeatIntervalMs: 5000,
        },
      })
      // supabase-js hands the token to Realtime asynchronously; a channel joined before that
      // would join with the anon key, so wait for it.
      await supabase.realtime.setAuth(token)
      emit({ event: 'result', cmd: 'connect', result: 'ok' })
      break
    }
    case 'subscribe': {
      const channel = supabase.channel(name, { config: command.config || {} })
      for (const binding of command.postgres || []) {
        channel.on('postgres_changes', binding, (payload) =>
          emit({ event: 'postgres_changes', name, payload })
        )
      }
      channel.on('broadcast', { event: '*' }, (payload) =>
        emit({ event: 'broadcast', name, payload })
      )
      channel.on('system', {}, (payload) => emit({ event: 'system', name, payload }))
      if (command.presence) {
        channel.on('presence', { event: 'sync' }, () =>
          emit({ event: 'presence_sync', name, state: channel.presenceState() })
        )
      }
      channels.set(name, channel)
      channel.subscribe((status, err) =>
        emit({ event: 'status', name, status, error: err ? String(err.message || err) : null })
      )
      break
    }
    case 'track': {
      const result = await channels.get(name).track(command.payload)
      emit({ event: 'result', cmd: 'track', name, result })
      break
    }
    case 'untrack': {
      const result = await channels.get(name).untrack()
      emit({ event: 'result', cmd: 'untrack', name, result })
      break
    }
    case 'send': {
      const result = await channels
        .get(name)
        .send({ type: 'broadcast', event: command.event, payload: command.payload })
      emit({ event: 'result', cmd: 'send', name, result })
      break
    }
    case 'set_auth': {
      token = command.token
      await supabase.realtime.setAuth(token)
      emit({ event: 'result', cmd: 'set_auth', result: 'ok' })
      break
    }
    case 'unsubscribe': {
      const result = await channels.get(name).unsubscribe()
      channels.delete(name)
      emit({ event: 'result', cmd: 'unsubscribe', name, result })
      break
    }
    case 'close': {
      if (supabase) await supabase.removeAllChannels()
      emit({ event: 'result', cmd: 'close', result: 'ok' })
      process.exit(0)
    }
    default:
      emit({ event: 'error', message: `unknown command ${command.cmd}` })
  }
}

// Commands run one after another, in the order they arrive.
let queue = Promise.resolve()
const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  if (!line.trim()) return
  let command
  try {
    command = JSON.parse(line)
  } catch (err) {
    emit({ event: 'error', message: `bad command: ${err.message}` })
    return
  }
  queue = queue
    .then(() => handle(command))
    .catch((err) => emit({ event: 'error', message: String(err && err.stack) }))
})
lines.on('close', () => process.exit(0))
