// A real nats-server (Debian's, with JetStream) per test suite: free loopback port, temp
// store, and kill/restart on the same port and store to inject faults.
import { Context, Effect, Layer } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })

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

export const natsServerBinary = (): string => {
  for (const p of ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]) {
    if (fs.existsSync(p)) return p
  }
  const which = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" })
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim()
  throw new Error("nats-server is not installed (apt-get install nats-server; .ci/run does it)")
}

export interface NatsServer {
  readonly url: string
  readonly port: number
  readonly storeDir: string
  /** SIGKILL the server and wait for it to be gone. */
  kill(): Promise<void>
  /** Start it again on the same port with the same store. */
  start(): Promise<void>
  /** Stop for good and delete the store. */
  close(): Promise<void>
}

export interface NatsServerOptions {
  /** The server's max_payload in bytes (its default is 1 MB). */
  readonly maxPayload?: number | undefined
  /** Require this user and password. */
  readonly auth?: { readonly user: string; readonly password: string } | undefined
  /** A whole configuration file (accounts, users, permissions): used as is, the other options ignored. */
  readonly configFile?: string | undefined
}

export const startNatsServer = async (options: NatsServerOptions = {}): Promise<NatsServer> => {
  const bin = natsServerBinary()
  const port = await freePort()
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-nats-"))
  const config: Array<string> = []
  const lines: Array<string> = []
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`)
  if (options.auth !== undefined) lines.push(`authorization { user: "${options.auth.user}", password: "${options.auth.password}" }`)
  if (options.configFile !== undefined) config.push("-c", options.configFile)
  else if (lines.length > 0) {
    const file = path.join(storeDir, "server.conf")
    fs.writeFileSync(file, `${lines.join("\n")}\n`)
    config.push("-c", file)
  }
  let child: ChildProcess | undefined
  const start = async () => {
    const c = spawn(bin, [...config, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    c.stderr!.on("data", (d) => (stderr += d))
    child = c
    for (let i = 0; i < 200; i++) {
      if (c.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`)
      if (await canConnect(port)) return
      await sleep(25)
    }
    throw new Error(`nats-server did not listen on ${port}: ${stderr}`)
  }
  const kill = async () => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null) return
    const gone = new Promise((r) => c.once("exit", r))
    c.kill("SIGKILL")
    await gone
  }
  await start()
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    kill,
    start,
    close: async () => {
      await kill()
      fs.rmSync(storeDir, { recursive: true, force: true })
    }
  }
}

/** The suite's nats-server for Effect tests: started with the layer, closed (store deleted)
 * with it. */
export class TestNats extends Context.Service<TestNats, NatsServer>()("grid/test/TestNats") {
  static readonly layer = (options: NatsServerOptions = {}) =>
    Layer.effect(TestNats, Effect.acquireRelease(Effect.promise(() => startNatsServer(options)), (s) => Effect.promise(() => s.close())))
}
