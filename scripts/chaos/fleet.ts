// The chaos run's fleet: NATS (one server or a three-server cluster, from test/support), a
// counting HTTP target (requests per path, so each test's load is counted apart), and K real
// `grid daemon` processes that can be SIGKILLed, SIGTERMed and restarted with the same node id
// and work dir. One node's work dir can be a small tmpfs so a fault can fill it.
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { startNatsCluster } from "../../test/support/natsCluster.ts"
import { startNatsServer } from "../../test/support/natsServer.ts"

export const root = path.resolve(import.meta.dirname, "../..")
export const nodeBin = path.join(root, "node_modules/.bin/node")
export const gridMain = path.join(root, "src/cli/main.ts")

export interface Nats {
  readonly url: string
  /** The servers that can be killed and restarted one at a time. */
  readonly members: ReadonlyArray<{ readonly name: string; kill(): Promise<void>; start(): Promise<void> }>
  close(): Promise<void>
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, "127.0.0.1")
    s.once("connect", () => {
      s.destroy()
      resolve(true)
    })
    s.once("error", () => resolve(false))
  })

/** The helpers give a server 5 s to listen; one recovering hundreds of consumers on a loaded
 * machine takes longer, and keeps starting: wait for it (up to 2 min) rather than give up. */
const patient = (port: number, start: () => Promise<void>) => async () => {
  try {
    await start()
  } catch (e) {
    for (let i = 0; i < 600; i++) {
      if (await listening(port)) return
      await new Promise((r) => setTimeout(r, 200))
    }
    throw e
  }
}

export const startNats = async (cluster: boolean): Promise<Nats> => {
  if (cluster) {
    const c = await startNatsCluster(3)
    return { url: c.url, members: c.members.map((m) => ({ name: m.name, kill: m.kill, start: patient(m.port, m.start) })), close: c.close }
  }
  const s = await startNatsServer()
  return { url: s.url, members: [{ name: "nats", kill: s.kill, start: patient(s.port, s.start) }], close: s.close }
}

export interface Target {
  readonly url: string
  /** Requests served per path. */
  readonly counts: Map<string, number>
  close(): Promise<void>
}

export const startTarget = (): Promise<Target> =>
  new Promise((resolve) => {
    const counts = new Map<string, number>()
    const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      const p = (req.url ?? "/").split("?")[0]!
      counts.set(p, (counts.get(p) ?? 0) + 1)
      req.resume()
      req.on("end", () => res.writeHead(200, { "content-type": "text/plain", "content-length": 2 }).end("ok"))
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        counts,
        close: () => new Promise((r) => {
          server.close(() => r())
          server.closeAllConnections()
        })
      }))
  })

export interface Daemon {
  readonly nodeId: string
  readonly workDir: string
  child: ChildProcess | undefined
  /** When the current process started (ms). */
  startedAt: number
  /** Output of every incarnation, last 64 kB. */
  log: string
  /** RSS (kB) sampled after warm-up, and when; reset at each restart. */
  warmRssKb: number | undefined
}

export const running = (d: Daemon): boolean => d.child !== undefined && d.child.exitCode === null && d.child.signalCode === null

export const startDaemon = (d: Daemon, natsUrl: string, replicas: number | undefined) => {
  const args = [
    gridMain, "daemon", "--nats-url", natsUrl, "--node-id", d.nodeId, "--work-dir", d.workDir,
    "--heartbeat-interval", "1s", "--stop-grace", "3s", "--control-loss-timeout", "30s",
    ...(replicas !== undefined ? ["--stream-replicas", String(replicas)] : [])
  ]
  const child = spawn(nodeBin, args, { stdio: ["ignore", "pipe", "pipe"] })
  const take = (b: Buffer) => (d.log = (d.log + b.toString()).slice(-65536))
  child.stdout!.on("data", take)
  child.stderr!.on("data", take)
  d.child = child
  d.startedAt = Date.now()
  d.warmRssKb = undefined
}

/** Sends `signal` and waits (bounded) for the process to exit; SIGKILL after `boundMs`. */
export const signalDaemon = async (d: Daemon, signal: NodeJS.Signals, boundMs = 60_000): Promise<number | null> => {
  const c = d.child
  if (c === undefined || !running(d)) return c?.exitCode ?? null
  const exited = new Promise<number | null>((r) => c.once("exit", (code) => r(code)))
  c.kill(signal)
  const timer = setTimeout(() => c.kill("SIGKILL"), boundMs)
  const code = await exited
  clearTimeout(timer)
  return code
}

export const rssKb = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** A small tmpfs for a work dir, when this machine lets us mount one (root in a container
 * that allows it); undefined otherwise. */
export const mountTmpfs = (dir: string, sizeMb: number): boolean => {
  fs.mkdirSync(dir, { recursive: true })
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

export const unmount = (dir: string) => {
  try {
    execFileSync("umount", ["-l", dir], { stdio: "ignore" })
  } catch {
    // not mounted
  }
}
