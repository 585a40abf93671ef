// Publish one control command to a node the way a controller does (JetStream, Nats-Msg-Id =
// commandId). Usage: npm run example:send -- <nodeId> <command.json> [nats-url]
// A missing commandId is filled with a UUID. Plain nats.js: this is what any platform does.
import { jetstream } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import * as crypto from "node:crypto"
import * as fs from "node:fs"

const [nodeId, file, url = process.env.GRID_NATS_URL ?? "nats://127.0.0.1:4222"] = process.argv.slice(2)
if (!nodeId || !file) {
  console.error("usage: npm run example:send -- <nodeId> <command.json> [nats-url]")
  process.exit(2)
}
const command = JSON.parse(fs.readFileSync(file, "utf8"))
command.commandId ??= crypto.randomUUID()
const nc = await connect({ servers: url })
const ack = await jetstream(nc).publish(`grid.control.node.${nodeId}`, JSON.stringify(command), { msgID: command.commandId })
console.log(`sent ${command.kind} ${command.commandId} to ${nodeId} (stream ${ack.stream} seq ${ack.seq})`)
await nc.close()
