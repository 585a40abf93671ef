// Tool `jmeter`: Apache JMeter in non-GUI mode on the `.jmx` named by `entry`. The common
// params become JMeter properties the plan reads with `${__P(name,default)}`: `users`,
// `rampUp`, `duration`, `rate`, `target` and its parts `target.protocol`, `target.host`,
// `target.port`, `target.path`; `params.properties` adds any other `-J` property. Results go
// to a CSV JTL with a header line (print_field_names), read by the `jmeter` parser.
// Debian's JMeter 2.13 loads no plan as shipped and still exits 0 having written nothing, so
// success is judged from the samples and the log, never from the exit code alone.
// Stop: first JMeter's own UDP `Shutdown` (samples in flight finish and are written), then,
// after the grace, SIGTERM. The JTL is flushed after every sample (autoflush), so live
// ingestion sees samples when they happen; a bare SIGTERM loses only the requests in flight.
import { Effect } from "effect"
import * as dgram from "node:dgram"
import type { ToolAdapter, ToolOutcome } from "./Tool.ts"
import { judgeByExitCode } from "./Tool.ts"
import { argvPrefix, availableWith, commonParams, entryOf, invalid, lastMatching, type ToolSettings } from "./adapterSupport.ts"
import type { ErrorInfo } from "../protocol/events.ts"
import { hostEnv } from "../runner/ToolEnv.ts"

export const jmeterResultsFile = "grid-results.jtl"
export const jmeterLogFile = "grid-jmeter.log"

/** Lines JMeter prints when the plan did not run, whatever the exit code says. */
const failureLine = /Error in NonGUIDriver|ForbiddenClassException|Could not open|Problem loading XML|NoClassDefFoundError|java\.lang\.\w+(Error|Exception):/

const propertyValue = (v: unknown) =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined

export const judgeJmeter = (outcome: ToolOutcome): ErrorInfo | undefined => {
  const byCode = judgeByExitCode(outcome)
  if (byCode !== undefined) return byCode
  const bad = lastMatching(outcome.logTail, failureLine)
  if (bad !== undefined) return { code: "tool_failed", message: `JMeter exited 0 but did not run the plan: ${bad}` }
  if (outcome.samples === 0) return { code: "no_results", message: "JMeter exited 0 but wrote no samples" }
  if (outcome.samples === undefined && !outcome.logTail.some((l) => l.includes("end of run"))) {
    return { code: "tool_failed", message: "JMeter exited 0 without reaching the end of its run" }
  }
  return undefined
}

/** `command`: e.g. `["java", "-cp", "...", "GridJMeterLauncher"]` for Debian's 2.13. */
export const makeJmeterTool = (options: ToolSettings = {}): ToolAdapter => {
  const command = options.command ?? ["jmeter"]
  return {
    name: "jmeter",
    defaultImage: options.image ?? "justb4/jmeter:5.5",
    available: availableWith(command),
    plan: (ctx) =>
      Effect.gen(function*() {
        const entry = yield* entryOf(ctx, ".jmx test plan")
        const p = yield* commonParams(ctx)
        const props: Array<[string, string]> = [
          ["jmeter.save.saveservice.output_format", "csv"],
          ["jmeter.save.saveservice.print_field_names", "true"],
          ["jmeter.save.saveservice.autoflush", "true"]
        ]
        if (p.users !== undefined) props.push(["users", String(p.users)])
        if (p.rampUpSeconds !== undefined) props.push(["rampUp", String(p.rampUpSeconds)])
        if (p.durationSeconds !== undefined) props.push(["duration", String(p.durationSeconds)])
        if (p.rate !== undefined) props.push(["rate", String(p.rate)])
        if (p.target !== undefined) {
          const t = p.target
          props.push(
            ["target", t.href],
            ["target.protocol", t.protocol.replace(/:$/, "")],
            ["target.host", t.hostname.replace(/^\[|\]$/g, "")],
            ["target.port", t.port || (t.protocol === "https:" ? "443" : "80")],
            ["target.path", t.pathname]
          )
        }
        const extra = ctx.command.params?.properties
        if (extra !== undefined) {
          if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
            return yield* invalid("params.properties must be an object of JMeter properties")
          }
          for (const [k, v] of Object.entries(extra)) {
            const value = propertyValue(v)
            if (value === undefined) return yield* invalid(`params.properties.${k} must be a string, number or boolean`)
            props.push([k, value])
          }
        }
        // JMeter's polite stop is a UDP `Shutdown` on its non-GUI port: running samples finish
        // and are written, nothing is lost. A port of its own, so tests side by side work.
        const port = yield* freeUdpPort
        props.push(["jmeterengine.nongui.port", String(port)], ["jmeterengine.nongui.maxport", String(port)])
        const dir = ctx.toolWorkDir
        return {
          politeStop: sendUdp(port, "Shutdown"),
          argv: [
            ...argvPrefix(ctx.runner, command),
            "-n",
            "-t", `${dir}/${entry}`,
            "-l", `${dir}/${jmeterResultsFile}`,
            "-j", `${dir}/${jmeterLogFile}`,
            ...props.map(([k, v]) => `-J${k}=${v}`),
            ...p.extraArgs
          ],
          // The jmeter script finds Java through JAVA_HOME when it is not on PATH.
          env: { ...hostEnv(ctx.runner, ["JAVA_HOME", "JRE_HOME"]), ...ctx.command.env },
          results: { path: `${ctx.workDir}/${jmeterResultsFile}`, format: "jmeter" as const }
        }
      }),
    judge: judgeJmeter
  }
}

export const jmeterTool: ToolAdapter = makeJmeterTool()

/** A UDP port free on the loopback right now (bound, read, released). */
const freeUdpPort = Effect.callback<number>((resume) => {
  const socket = dgram.createSocket("udp4")
  socket.bind(0, "127.0.0.1", () => {
    const port = socket.address().port
    socket.close(() => resume(Effect.succeed(port)))
  })
})

/** One datagram to 127.0.0.1:`port`; a failure to send is not an error (signals follow). */
const sendUdp = (port: number, message: string): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const socket = dgram.createSocket("udp4")
    socket.send(message, port, "127.0.0.1", () => socket.close(() => resume(Effect.void)))
  })
