// Print every grid event as it is published, and the live nodes' heartbeats, until Ctrl-C.
// Usage: npm run example:watch -- [nats-url]
import { DeliverPolicy, jetstream } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"

const url = process.argv[2] ?? process.env.GRID_NATS_URL ?? "nats://127.0.0.1:4222"
const nc = await connect({ servers: url })
const js = jetstream(nc)
// The daemon creates the streams and the bucket: wait for them if it is not up yet.
const retry = async <T>(f: () => Promise<T>): Promise<T> => {
  for (;;) {
    try {
      return await f()
    } catch {
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}
const kv = await retry(() => new Kvm(nc).open("grid_nodes"))
void (async () => {
  for await (const e of await kv.watch()) {
    if (e.operation === "PUT") {
      const hb = e.json<{ nodeId: string; state: string; tests: Array<string>; tools: Array<string> }>()
      console.log(`heartbeat ${hb.nodeId}: ${hb.state}, tests [${hb.tests.join(", ")}], tools [${hb.tools.join(", ")}]`)
    } else console.log(`node ${e.key} gone (${e.operation})`)
  }
})()
const consumer = await retry(() => js.consumers.get("GRID_EVENTS", { deliver_policy: DeliverPolicy.New }))
for await (const m of await consumer.consume()) console.log(`${m.subject} ${m.string()}`)
