// The chaos run's stream of short tests, each a real `grid launch` process on one node: the
// built-in engine against the counting target (its own path per test, so the target's count
// for that path is what the test must report) or a `command` tool writing a JMeter CSV of a
// known number of samples over a few seconds, or (when docker answers) a `command` in a
// container of a local busybox image, which only its events and leftovers judge. Each launch is bounded: one still running
// past its duration plus `boundMs` is a hang (a violation), and is killed.
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { gridMain, nodeBin } from "./fleet.ts"

export type Kind = "builtin" | "command" | "docker"

export interface TestRecord {
  readonly testId: string
  readonly nodeId: string
  readonly kind: Kind
  readonly durationS: number
  /** Samples the tool must report: the target's count (builtin, known at the end) or the CSV's. */
  expected: number | undefined
  readonly startedAt: number
  endedAt: number | undefined
  exitCode: number | null | undefined
  hung: boolean
  /** The launch process was SIGKILLed by a fault. */
  controllerKilled: boolean
  /** Faults that touched this test's node or tool while it ran (not NATS, not the controller). */
  readonly nodeFaults: Array<string>
  child: ChildProcess | undefined
  output: string
}

const HEADER = "timeStamp,elapsed,label,responseCode,success,bytes,sentBytes,Latency"

/** Writes the plan and starts `grid launch`; `onEnd` once it exited. */
export const launchTest = (options: {
  readonly dir: string
  readonly natsUrl: string
  readonly targetUrl: string
  readonly testId: string
  readonly nodeId: string
  readonly kind: Kind
  readonly durationS: number
  readonly boundMs: number
  /** The image of `docker` tests. */
  readonly image?: string | undefined
}): TestRecord => {
  const { testId, kind, durationS } = options
  const samples = kind === "command" ? 10 * durationS : undefined
  const plan = kind === "docker"
    ? { name: "chaos", tool: "command", runner: "docker", image: options.image, params: { command: ["sh", "-c", `sleep ${durationS}`] } }
    : kind === "builtin"
    ? {
      name: "chaos",
      tool: "builtin",
      scenario: { target: options.targetUrl, requests: [{ name: "t", path: `/${testId}` }], load: { model: "open", rate: 20, durationSeconds: durationS } }
    }
    : {
      name: "chaos",
      tool: "command",
      params: {
        // Ten samples a second for the duration, appended line by line as a tool would.
        command: ["sh", "-c", `echo '${HEADER}' > r.jtl; i=0; while [ $i -lt ${samples} ]; do echo "$(($(date +%s%N)/1000000)),3,c,200,true,10,5,1" >> r.jtl; i=$((i+1)); [ $((i % 10)) -eq 0 ] && sleep 1; done`],
        results: { path: "r.jtl", format: "jmeter" }
      }
    }
  const planFile = path.join(options.dir, `${testId}.json`)
  fs.writeFileSync(planFile, JSON.stringify(plan))
  const child = spawn(nodeBin, [
    gridMain, "launch", planFile, "--nats-url", options.natsUrl, "--nodes", options.nodeId, "--test-id", testId,
    "--wait-idle", "60s", "--lease", "10s", "--out", path.join(options.dir, `${testId}.out.json`)
  ], { stdio: ["ignore", "pipe", "pipe"] })
  const record: TestRecord = {
    testId, nodeId: options.nodeId, kind, durationS, expected: samples, startedAt: Date.now(), endedAt: undefined,
    exitCode: undefined, hung: false, controllerKilled: false, nodeFaults: [], child, output: ""
  }
  const take = (b: Buffer) => (record.output = (record.output + b.toString()).slice(-16384))
  child.stdout!.on("data", take)
  child.stderr!.on("data", take)
  const bound = setTimeout(() => {
    record.hung = true
    child.kill("SIGKILL")
  }, durationS * 1000 + options.boundMs)
  child.once("exit", (code) => {
    clearTimeout(bound)
    record.exitCode = code
    record.endedAt = Date.now()
    record.child = undefined
  })
  return record
}

export const launchRunning = (t: TestRecord) => t.child !== undefined && t.endedAt === undefined
