// The chaos run's invariants, checked from what NATS stored and what the machine holds once
// the fleet stopped cleanly: one terminal event per accepted test; gap-free windows with one
// final and totals equal to what the target served (or the tool wrote) for tests no fault
// touched on their node; no process, container or work directory left behind; daemon RSS
// within a bound of its warm-up; every launch ended within its bound. One table prints them.
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { markerFile } from "../../src/runner/WorkMarker.ts"
import type { Daemon } from "./fleet.ts"
import { processesUnder } from "./faults.ts"
import type { TestRecord } from "./workload.ts"

export interface Violation {
  readonly invariant: string
  readonly testId: string
  readonly detail: string
}

interface Stored {
  readonly events: Array<{ kind: string; nodeId?: string }>
  readonly windows: Array<{ nodeId: string; seq: number; final: boolean; labels: Array<{ label: string; count: number }> }>
}

/** Everything stored for each test, read with plain consumers (not the code under test). */
export const readStored = async (natsUrl: string, testIds: ReadonlyArray<string>): Promise<Map<string, Stored>> => {
  const nc = await connect({ servers: natsUrl.split(","), maxReconnectAttempts: 20 })
  const js = jetstream(nc)
  const jsm = await jetstreamManager(nc)
  const all = async <A>(stream: string, subject: string): Promise<Array<A>> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const consumer = await js.consumers.get(stream, { filter_subjects: subject })
        // Read exactly what was stored when the consumer was made: waiting for a pull to expire
        // at the end of each subject made the read-back 3 s a test.
        const stored = (await jsm.streams.info(stream, { subjects_filter: subject })).state.subjects ?? {}
        const pending = Object.values(stored).reduce((n, c) => n + c, 0)
        const out: Array<A> = []
        while (out.length < pending) {
          const m = await consumer.next({ expires: 5_000 })
          if (!m) throw new Error(`${subject}: ${out.length} of ${pending} stored messages read`)
          out.push(JSON.parse(m.string()) as A)
        }
        return out
      } catch (e) {
        if (attempt >= 10) throw e
        await new Promise((r) => setTimeout(r, 1_000))
      }
    }
  }
  const out = new Map<string, Stored>()
  try {
    for (const id of testIds) {
      out.set(id, { events: await all("GRID_EVENTS", `grid.events.${id}.>`), windows: await all("GRID_RESULTS", `grid.results.${id}.>`) })
    }
  } finally {
    await nc.close()
  }
  return out
}

const terminal = new Set(["finished", "failed", "stopped"])

export const checkTests = (tests: ReadonlyArray<TestRecord>, stored: Map<string, Stored>, served: Map<string, number>): Array<Violation> => {
  const v: Array<Violation> = []
  for (const t of tests) {
    if (t.hung) v.push({ invariant: "launch ended within its bound", testId: t.testId, detail: `still running ${t.durationS} s + bound after start: killed` })
    const s = stored.get(t.testId)
    if (s === undefined) continue
    const accepted = s.events.some((e) => e.kind === "accepted")
    const terminals = s.events.filter((e) => terminal.has(e.kind))
    if (accepted && terminals.length !== 1) {
      v.push({ invariant: "one terminal event per accepted test", testId: t.testId, detail: `${terminals.length} terminal events (${terminals.map((e) => e.kind).join(", ") || "none"}) on ${t.nodeId}` })
    }
    // A container running `sleep` reports no samples: its events and leftovers are what count.
    if (!accepted || t.nodeFaults.length > 0 || terminals[0]?.kind === "failed" || t.kind === "docker") continue
    const seqs = s.windows.map((w) => w.seq).sort((a, b) => a - b)
    const unique = new Set(seqs)
    const finals = s.windows.filter((w) => w.final)
    const gapFree = seqs.length > 0 && unique.size === seqs.length && seqs[seqs.length - 1] === seqs.length - 1
    if (!gapFree || finals.length !== 1 || finals[0]!.seq !== seqs[seqs.length - 1]) {
      v.push({ invariant: "windows gap-free, one final", testId: t.testId, detail: `seqs ${seqs.length} (${unique.size} distinct, last ${seqs[seqs.length - 1]}), finals ${finals.length}` })
      continue
    }
    const total = s.windows.reduce((n, w) => n + (w.labels.find((l) => l.label === "*")?.count ?? 0), 0)
    const expected = t.kind === "builtin" ? served.get(`/${t.testId}`) ?? 0 : t.expected
    // A command stopped early (its launch killed, say) wrote fewer lines than planned: its
    // windows must then hold what it wrote, which only the file knows; checked for finished ones.
    if (t.kind === "command" && terminals[0]?.kind !== "finished") continue
    if (total !== expected) v.push({ invariant: "totals equal what was served/written", testId: t.testId, detail: `windows say ${total}, ${t.kind === "builtin" ? "target served" : "tool wrote"} ${expected}` })
  }
  return v
}

/** What a cleanly stopped fleet must not leave: processes in its work dirs, test directories,
 * containers labelled with its nodes. */
export const checkLeftovers = (daemons: ReadonlyArray<Daemon>): Array<Violation> => {
  const v: Array<Violation> = []
  for (const d of daemons) {
    for (const pid of processesUnder(d.workDir)) {
      let cmd = "?"
      try {
        cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").slice(0, 120)
      } catch {
        // gone
      }
      v.push({ invariant: "nothing left behind", testId: "-", detail: `process ${pid} in ${d.nodeId}'s work dir: ${cmd}` })
    }
    // The node's root is <work-dir>/<node id> (its marker and journal); tests' dirs are inside.
    const nodeRoot = path.join(d.workDir, d.nodeId)
    const left = fs.existsSync(nodeRoot) ? fs.readdirSync(nodeRoot).filter((f) => f !== markerFile && !f.startsWith(".")) : []
    for (const f of left) {
      const full = path.join(nodeRoot, f)
      if (fs.statSync(full).isDirectory()) v.push({ invariant: "nothing left behind", testId: f, detail: `work directory ${full}` })
    }
  }
  try {
    const names = execFileSync("docker", ["ps", "-a", "--filter", "label=grid.node", "--format", "{{.Names}} {{.Label \"grid.node\"}}"], { encoding: "utf8", timeout: 20_000 })
    for (const line of names.split("\n").filter((l) => l.trim() !== "")) {
      if (daemons.some((d) => line.endsWith(` ${d.nodeId}`))) v.push({ invariant: "nothing left behind", testId: "-", detail: `container ${line}` })
    }
  } catch {
    // no docker here: nothing of ours can be left in it
  }
  return v
}

export const checkRss = (daemons: ReadonlyArray<Daemon>, endRssKb: Map<string, number>): Array<Violation> => {
  const v: Array<Violation> = []
  for (const d of daemons) {
    const warm = d.warmRssKb
    const end = endRssKb.get(d.nodeId)
    if (warm === undefined || end === undefined) continue
    // Bound: half as much again as after warm-up, plus 64 MB of heap slack.
    if (end > warm * 1.5 + 65536) v.push({ invariant: "daemon RSS within bound", testId: "-", detail: `${d.nodeId}: ${(end / 1024).toFixed(0)} MB at the end, ${(warm / 1024).toFixed(0)} MB after warm-up` })
  }
  return v
}

export const table = (rows: ReadonlyArray<readonly [string, string | number]>): string => {
  const w = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, val]) => `${k.padEnd(w)}  ${val}`).join("\n")
}
