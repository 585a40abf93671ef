// The other end of docs/protocol.md as Promises, for bench/startup.bench.ts (a top-level-await
// script): publishes commands the way a controller does and reads every event of the
// GRID_EVENTS stream through an ordered consumer. Tests use the Effect WireClient instead.
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect, type NatsConnection as Conn } from "@nats-io/transport-node"
import { Duration, Effect } from "effect"
import * as crypto from "node:crypto"
import { ensureAssets } from "../../src/nats/JetStreamAssets.ts"
import { NatsConnection } from "../../src/nats/NatsConnection.ts"
import { assets, subjects } from "../../src/protocol/names.ts"
import type { ResultWindow } from "../../src/protocol/results.ts"

export interface WireEvent {
  readonly kind: string
  readonly testId?: string
  readonly nodeId: string
  readonly commandId?: string
  readonly at: string
  readonly [k: string]: unknown
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const waitUntil = async <T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

export interface GridClient {
  readonly nc: Conn
  readonly events: Array<WireEvent>
  send(nodeId: string, command: Record<string, unknown>): Promise<string>
  sendRaw(nodeId: string, data: Uint8Array | string): Promise<void>
  eventsOf(testId: string | undefined): Array<WireEvent>
  waitEvent(testId: string | undefined, kind: string, timeoutMs?: number): Promise<WireEvent>
  heartbeat(nodeId: string): Promise<Record<string, unknown> | undefined>
  /** Every message stored in GRID_RESULTS for a test (duplicates included, if any). */
  results(testId: string): Promise<Array<ResultWindow>>
  close(): Promise<void>
}

export const gridClient = async (url: string, prefix = "grid"): Promise<GridClient> => {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  const js = jetstream(nc)
  const jsm = await jetstreamManager(nc)
  const events: Array<WireEvent> = []
  // Like a controller, the client creates the protocol's assets itself (idempotently).
  await Effect.runPromise(
    ensureAssets(assets(prefix), subjects(prefix), Duration.seconds(15)).pipe(
      Effect.provideService(NatsConnection, NatsConnection.of({ nc, js, jsm }))
    )
  )
  // An ordered consumer forgets its place when the server restarts; reopen it after every
  // reconnect from the next stream sequence, so a restart in a fault test loses nothing.
  let lastSeq = 0
  let closed = false
  let messages: Awaited<ReturnType<Awaited<ReturnType<typeof js.consumers.get>>["consume"]>> | undefined
  const follow = async () => {
    while (!closed) {
      try {
        const consumer = await js.consumers.get(assets(prefix).events, lastSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSeq + 1 } : {})
        messages = await consumer.consume({ expires: 2_000 })
        for await (const m of messages) {
          if (m.seq <= lastSeq) continue
          lastSeq = m.seq
          events.push(m.json<WireEvent>())
        }
      } catch {
        await sleep(100)
      }
    }
  }
  void follow()
  void (async () => {
    for await (const s of nc.status()) if (s.type === "reconnect") await messages?.close().catch(() => undefined)
  })()
  const eventsOf = (testId: string | undefined) => events.filter((e) => e.testId === testId)
  return {
    nc,
    events,
    send: async (nodeId, command) => {
      const commandId = (command.commandId as string | undefined) ?? crypto.randomUUID()
      await js.publish(`${prefix}.control.node.${nodeId}`, JSON.stringify({ ...command, commandId }), { msgID: commandId })
      return commandId
    },
    sendRaw: async (nodeId, data) => {
      await js.publish(`${prefix}.control.node.${nodeId}`, data)
    },
    eventsOf,
    waitEvent: (testId, kind, timeoutMs) =>
      waitUntil(`${kind} event of ${testId}`, () => eventsOf(testId).find((e) => e.kind === kind), timeoutMs),
    heartbeat: async (nodeId) => {
      const kv = await new Kvm(nc).open(assets(prefix).nodes)
      const entry = await kv.get(nodeId)
      return entry && entry.operation === "PUT" ? entry.json<Record<string, unknown>>() : undefined
    },
    results: async (testId) => {
      const consumer = await js.consumers.get(assets(prefix).results, { filter_subjects: `${prefix}.results.${testId}.>` })
      const out: Array<ResultWindow> = []
      for (;;) {
        const m = await consumer.next({ expires: 1_000 })
        if (!m) return out
        out.push(m.json<ResultWindow>())
      }
    },
    close: async () => {
      closed = true
      await messages?.close().catch(() => undefined)
      await nc.close()
    }
  }
}
