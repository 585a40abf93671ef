// The node's target allow-list (`grid daemon --allow-target`, issue #14 item 4) against a real
// daemon, real `grid engine` children and two counting targets on 127.0.0.1: only the allowed
// target's port is on the list. A scenario reaching the other one (its target, an absolute URL,
// or a data row substituted into a URL) is rejected `target_not_allowed` before `accepted`,
// naming the host, and the other target never sees a request. Tools whose targets the node
// cannot read run only when `--allow-tools` names them. The connect-time check (DNS may change
// between the two) is the resolver the engine's sockets use: a real connect through it is refused.
import { layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { connect } from "node:net"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { type AllowList, guardedLookup, NOT_ALLOWED, parseAllowList } from "../src/engine/TargetAllowList.ts"
import { countingTarget } from "./fixtures/countingTarget.ts"
import { TestDaemon } from "./support/daemon.ts"
import { runGrid } from "./support/gridCli.ts"
import { TestNats } from "./support/natsServer.ts"
import { WireClient } from "./support/WireClient.ts"

const node = "allow-1"
type Counting = { readonly url: string; readonly port: number; readonly count: () => number }
class Targets extends Context.Service<Targets, { readonly allowed: Counting; readonly other: Counting }>()("test/allow-target/Targets") {}

const counting = Effect.map(countingTarget, (t) => ({ url: t.url, port: Number(new URL(t.url).port), count: t.count }))
const targets = Layer.effect(Targets, Effect.all({ allowed: counting, other: counting }))

const list = (texts: ReadonlyArray<string>): AllowList => {
  const parsed = parseAllowList(texts)
  if ("problems" in parsed) throw new Error(parsed.problems.join("; "))
  return parsed
}

const daemon = Layer.unwrap(Effect.gen(function*() {
  const { allowed } = yield* Targets
  return TestDaemon.layer({ nodeId: node, allowTargets: list([`127.0.0.1:${allowed.port}`, "*.example.invalid"]), allowTools: ["command"] })
}))
const env = daemon.pipe(Layer.provideMerge(WireClient.layerNats), Layer.provideMerge(Layer.mergeAll(TestNats.layer(), targets)))

const scenario = (target: string, requests: ReadonlyArray<{ name: string; path: string }>, data?: string) => {
  const doc = {
    target,
    requests,
    load: { model: "closed", users: 1, durationSeconds: 1 },
    ...(data !== undefined ? { data: { file: "data.csv" } } : {})
  }
  return [
    { path: "scenario.json", content: JSON.stringify(doc) },
    ...(data !== undefined ? [{ path: "data.csv", content: data }] : [])
  ]
}

const startBuiltin = (testId: string, files: ReadonlyArray<{ path: string; content: string }>) =>
  Effect.gen(function*() {
    yield* (yield* WireClient).send(node, { kind: "start", testId, tool: "builtin", entry: "scenario.json", files })
  })

/** The test's rejection; it must be the only event of the test (nothing accepted, nothing sent). */
const expectRejected = (testId: string, host: string) =>
  Effect.gen(function*() {
    const client = yield* WireClient
    const rejected = yield* client.waitEvent(testId, "rejected", "30 seconds")
    expect(rejected.code).toBe("target_not_allowed")
    expect(rejected.message).toContain(host)
    expect((yield* client.eventsOf(testId)).map((e) => e.kind)).toEqual(["rejected"])
  })

describe("target allow-list", () => {
  layer(env, { excludeTestServices: true, timeout: "90 seconds" })((it) => {
    it.effect("a scenario on the allowed target runs and reaches it", () =>
      Effect.gen(function*() {
        const { allowed } = yield* Targets
        yield* startBuiltin("ok-1", scenario(allowed.url, [{ name: "home", path: "/" }]))
        const done = yield* (yield* WireClient).terminalOf("ok-1", "60 seconds")
        expect(done.kind, JSON.stringify(done)).toBe("finished")
        expect(allowed.count()).toBeGreaterThan(0)
      }))

    it.effect("a scenario whose target is not on the list is rejected before accepted, naming the host", () =>
      Effect.gen(function*() {
        const { other } = yield* Targets
        yield* startBuiltin("deny-target", scenario(other.url, [{ name: "home", path: "/" }]))
        yield* expectRejected("deny-target", `127.0.0.1:${other.port}`)
        expect(other.count()).toBe(0)
      }))

    it.effect("an absolute request URL elsewhere is rejected", () =>
      Effect.gen(function*() {
        const { allowed, other } = yield* Targets
        yield* startBuiltin("deny-absolute", scenario(allowed.url, [{ name: "home", path: "/" }, { name: "away", path: `${other.url}/x` }]))
        yield* expectRejected("deny-absolute", `127.0.0.1:${other.port}`)
        expect(other.count()).toBe(0)
      }))

    it.effect("a data row substituted into a URL's host that points elsewhere is rejected", () =>
      Effect.gen(function*() {
        const { allowed, other } = yield* Targets
        const files = scenario(allowed.url, [{ name: "row", path: "http://${hostport}/item" }], `hostport\n127.0.0.1:${allowed.port}\n127.0.0.1:${other.port}\n`)
        yield* startBuiltin("deny-data", files)
        yield* expectRejected("deny-data", `127.0.0.1:${other.port}`)
        expect(other.count()).toBe(0)
      }))

    it.effect("a params.target override is checked too", () =>
      Effect.gen(function*() {
        const { allowed, other } = yield* Targets
        const client = yield* WireClient
        yield* client.send(node, {
          kind: "start",
          testId: "deny-param",
          tool: "builtin",
          entry: "scenario.json",
          files: scenario(allowed.url, [{ name: "home", path: "/" }]),
          params: { target: other.url }
        })
        yield* expectRejected("deny-param", `127.0.0.1:${other.port}`)
      }))

    it.effect("a tool whose targets cannot be read runs only when --allow-tools names it", () =>
      Effect.gen(function*() {
        const client = yield* WireClient
        yield* client.send(node, { kind: "start", testId: "tool-named", tool: "command", params: { command: ["true"] } })
        expect((yield* client.terminalOf("tool-named", "30 seconds")).kind).toBe("finished")
        yield* client.send(node, {
          kind: "start",
          testId: "tool-unnamed",
          tool: "locust",
          entry: "locustfile.py",
          files: [{ path: "locustfile.py", content: "from locust import HttpUser, task\nclass U(HttpUser):\n    @task\n    def t(self):\n        self.client.get('/')\n" }]
        })
        yield* expectRejected("tool-unnamed", "locust")
      }))

    it.effect("grid engine --allow-target refuses on its own: exit 3, target_not_allowed, nothing sent", () =>
      Effect.gen(function*() {
        const { allowed, other } = yield* Targets
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grid-allow-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        const file = path.join(dir, "scenario.json")
        fs.writeFileSync(file, scenario(other.url, [{ name: "home", path: "/" }])[0]!.content)
        const ran = yield* runGrid(["engine", file, "--results", path.join(dir, "out.jtl"), "--allow-target", `127.0.0.1:${allowed.port}`])
        expect(ran.code, ran.out).toBe(3)
        expect(ran.stderr).toContain(`target_not_allowed: target 127.0.0.1:${other.port} is not allowed`)
        expect(other.count()).toBe(0)
      }).pipe(Effect.scoped))

    it.effect("the connect-time resolver refuses an address the list does not allow", () =>
      Effect.gen(function*() {
        const { allowed } = yield* Targets
        // `localhost` is not on the list by name; only 10.0.0.0/8 is: its address is refused at connect.
        const guard = guardedLookup(list(["10.0.0.0/8"]), allowed.port)
        const refused = yield* Effect.callback<string | undefined>((resume) => {
          const socket = connect({ host: "localhost", port: allowed.port, lookup: guard })
          socket.once("connect", () => (socket.destroy(), resume(Effect.succeed(undefined))))
          socket.once("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed(e.code)))
        })
        expect(refused).toBe(NOT_ALLOWED)
        // The same name through a list whose CIDR holds its address connects.
        const okGuard = guardedLookup(list(["127.0.0.0/8", "::1/128"]), allowed.port)
        const ok = yield* Effect.callback<string | undefined>((resume) => {
          const socket = connect({ host: "localhost", port: allowed.port, lookup: okGuard })
          socket.once("connect", () => (socket.destroy(), resume(Effect.succeed(undefined))))
          socket.once("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed(e.code)))
        })
        expect(ok).toBeUndefined()
      }), { timeout: 10_000 })

    it.effect("entries are read strictly", () =>
      Effect.sync(() => {
        expect(parseAllowList(["10.0.0.0/33"])).toHaveProperty("problems")
        expect(parseAllowList(["http://x"])).toHaveProperty("problems")
        const l = list(["api.example.com:443", "*.example.org", "192.168.0.0/16", "[::1]:8080"])
        expect(l.entries).toHaveLength(4)
      }).pipe(Effect.andThen(Effect.sleep(Duration.zero))))
  })
})
