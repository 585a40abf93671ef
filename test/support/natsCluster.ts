// Three real nats-servers (Debian's 2.9) clustered with JetStream on loopback ports, each with
// its own store, for tests of a grid that outlives a server: any one can be SIGKILLed and
// started again on the same ports and store. `leaderOf` names the server leading a stream, so
// a test kills the one that matters. TestNatsCluster also stands as TestNats (its url is the
// comma-separated list) so the suite's daemon and wire helpers work against it unchanged.
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Context, Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { freePort, type NatsServer, natsServerBinary, TestNats } from "./natsServer.ts"

export interface ClusterMember {
  /** Its server_name: n1, n2, n3. */
  readonly name: string
  readonly url: string
  readonly port: number
  readonly running: () => boolean
  /** SIGKILL, waited for. */
  readonly kill: () => Promise<void>
  /** Start again on the same ports and store; resolves once it listens. */
  readonly start: () => Promise<void>
}

export interface NatsCluster {
  /** Every member's client URL, comma-separated (what `--nats-url` takes). */
  readonly url: string
  readonly members: ReadonlyArray<ClusterMember>
  readonly member: (name: string) => ClusterMember
  /** The server_name leading a stream, read from a live member; undefined while none leads. */
  readonly leaderOf: (stream: string) => Promise<string | undefined>
  readonly close: () => Promise<void>
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, "127.0.0.1")
    s.once("connect", () => {
      s.destroy()
      resolve(true)
    })
    s.once("error", () => resolve(false))
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const startNatsCluster = async (size = 3): Promise<NatsCluster> => {
  const bin = natsServerBinary()
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "grid-nats-cluster-"))
  const ports: Array<{ client: number; route: number }> = []
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), route: await freePort() })
  const members = ports.map(({ client, route }, i): ClusterMember => {
    const name = `n${i + 1}`
    const dir = path.join(root, name)
    fs.mkdirSync(dir, { recursive: true })
    const conf = path.join(dir, "server.conf")
    const routes = ports.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p.route}`)
    fs.writeFileSync(conf, [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${client}`,
      `jetstream { store_dir: "${path.join(dir, "store")}" }`,
      `cluster { name: grid-test, listen: 127.0.0.1:${route}, routes: [${routes.join(", ")}] }`,
      ""
    ].join("\n"))
    let child: ChildProcess | undefined
    const running = () => child !== undefined && child.exitCode === null && child.signalCode === null
    const start = async () => {
      if (running()) return
      const c = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] })
      let stderr = ""
      c.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-8000)))
      child = c
      for (let k = 0; k < 400; k++) {
        if (c.exitCode !== null) throw new Error(`nats-server ${name} exited: ${stderr}`)
        if (await canConnect(client)) return
        await sleep(25)
      }
      throw new Error(`nats-server ${name} did not listen on ${client}: ${stderr}`)
    }
    const kill = async () => {
      const c = child
      child = undefined
      if (!c || c.exitCode !== null || c.signalCode !== null) return
      const gone = new Promise((r) => c.once("exit", r))
      c.kill("SIGKILL")
      await gone
    }
    return { name, url: `nats://127.0.0.1:${client}`, port: client, running, kill, start }
  })
  await Promise.all(members.map((m) => m.start()))
  const url = members.map((m) => m.url).join(",")
  const leaderOf = async (stream: string) => {
    const live = members.filter((m) => m.running()).map((m) => m.url)
    if (live.length === 0) return undefined
    const nc = await connect({ servers: live, timeout: 2_000 })
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000 })
      const info = await jsm.streams.info(stream)
      return info.cluster?.leader
    } catch {
      return undefined
    } finally {
      await nc.close()
    }
  }
  const cluster: NatsCluster = {
    url,
    members,
    member: (name) => {
      const m = members.find((x) => x.name === name)
      if (m === undefined) throw new Error(`no cluster member ${name}`)
      return m
    },
    leaderOf,
    close: async () => {
      await Promise.all(members.map((m) => m.kill()))
      fs.rmSync(root, { recursive: true, force: true })
    }
  }
  await waitForMetaLeader(cluster)
  return cluster
}

/** JetStream in a fresh cluster places a replicated stream only once its members elected a
 * meta leader and it knows every peer: a throwaway stream with one replica per member proves it. */
const waitForMetaLeader = async (cluster: NatsCluster) => {
  const nc = await connect({ servers: cluster.members.map((m) => m.url) })
  try {
    for (let i = 0; i < 600; i++) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 })
        await jsm.streams.add({ name: "CLUSTER_READY", subjects: ["cluster.ready"], num_replicas: cluster.members.length })
        await jsm.streams.delete("CLUSTER_READY")
        return
      } catch {
        await sleep(100)
      }
    }
    throw new Error("the NATS cluster could not place a replicated stream in 60 s")
  } finally {
    await nc.close()
  }
}

/** The suite's cluster, started with the layer and closed (stores deleted) with it. */
export class TestNatsCluster extends Context.Service<TestNatsCluster, NatsCluster>()("grid/test/TestNatsCluster") {
  static readonly layer = (size = 3) =>
    Layer.effect(TestNatsCluster, Effect.acquireRelease(Effect.promise(() => startNatsCluster(size)), (c) => Effect.promise(() => c.close())))
}

/** TestNats over the cluster: its url is every member's; kill/start act on the first member. */
export const clusterAsTestNats = Layer.effect(
  TestNats,
  Effect.map(TestNatsCluster, (c): NatsServer => {
    const first = c.members[0]!
    return { url: c.url, port: first.port, storeDir: "", kill: first.kill, start: first.start, close: async () => undefined }
  })
)
