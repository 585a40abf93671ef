// A real Prometheus (Debian's `prometheus`) for tests: scraping one target every second, on
// 127.0.0.1 and a free port, its storage in a temp dir, stopped (and waited for) with the scope;
// `query` asks its HTTP API for an instant vector's first value. Used by the daemon's and the
// runs' metrics tests alike.
import { Effect } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { freePort } from "./natsServer.ts"

/** A temp dir of the scope, removed with it. */
export const tempDir = (prefix: string) =>
  Effect.acquireRelease(Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))), (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))

/** `promtool check metrics` on an exposition: its complaints ("" when none) and exit code. */
export const promtoolCheck = (metrics: string) => {
  const r = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" })
  return { problems: r.stdout + r.stderr, status: r.status }
}

/** Prometheus scraping `hostPort` (e.g. 127.0.0.1:9465) every second. */
export const prometheus = (hostPort: string) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("grid-prom-")
    const promPort = yield* Effect.promise(() => freePort())
    fs.writeFileSync(path.join(dir, "prometheus.yml"), [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: grid",
      "    static_configs:",
      `      - targets: ["${hostPort}"]`,
      ""
    ].join("\n"))
    let log = ""
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const prom = spawn("prometheus", [
          `--config.file=${path.join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${path.join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${promPort}`
        ], { stdio: ["ignore", "ignore", "pipe"] })
        prom.stderr!.on("data", (b) => (log += b))
        return { prom, exited: new Promise((r) => prom.once("exit", r)) }
      }),
      ({ exited, prom }) =>
        Effect.promise(() => {
          prom.kill("SIGTERM")
          return exited
        })
    )
    const query = (q: string): Effect.Effect<number | undefined> =>
      Effect.promise(() =>
        fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`)
          .then((r) => r.json() as Promise<{ data?: { result?: Array<{ value: [number, string] }> } }>)
          .then((body) => {
            const v = body.data?.result?.[0]?.value[1]
            return v === undefined ? undefined : Number(v)
          })
          .catch(() => undefined)
      )
    /** The samples of a range query's first series (e.g. `metric[5m]`), oldest first. */
    const samples = (q: string): Effect.Effect<ReadonlyArray<number>> =>
      Effect.promise(() =>
        fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`)
          .then((r) => r.json() as Promise<{ data?: { result?: Array<{ values: Array<[number, string]> }> } }>)
          .then((body) => (body.data?.result?.[0]?.values ?? []).map(([, v]) => Number(v)))
          .catch(() => [])
      )
    return { query, samples, log: () => log }
  })
