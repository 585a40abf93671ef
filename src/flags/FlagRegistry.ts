// Every live flag of the fleet (issue #13), in one registry that the daemon (NodeFlags.ts), the
// CLI (`grid flags`) and the docs read: its key pattern, its Schema (type and allowed values),
// its default, one line of documentation and the scopes it may be set at. Also the bucket's key
// grammar: `global.<flag>`, `channel.<channel>.<flag>`, `grid.<gridId>.<flag>`,
// `node.<nodeId>.<flag>`. Values are stored as the text a user types (`false`, `4`, `docker`),
// so that `nats kv put` by hand writes the same thing `grid flags set` does; every value read
// goes through its flag's Schema, and one that fails it is never applied.
import { Result, Schema } from "effect"

export type FlagValue = string | number | boolean

/** Where a value is set, from the narrowest to the widest; then the daemon's own flag/env
 * value, then the built-in default. */
export const scopes = ["node", "grid", "channel", "global"] as const
export type FlagScope = (typeof scopes)[number]

/** Channel, grid and node names as key tokens: what `Id` allows (no dot: it separates tokens). */
const tokenPattern = /^[A-Za-z0-9_-]{1,64}$/
export const isScopeTarget = (s: string): boolean => tokenPattern.test(s)

/** Tools whose binary a node runs from a path (the process runner). */
export const pathTools = ["jmeter", "locust", "k6", "artillery", "gatling"] as const
/** Tools that run from an image with the docker runner. */
export const imageTools = ["builtin", ...pathTools] as const

export interface FlagDef {
  /** The name as documented: `accept`, `tools.<tool>.image`. */
  readonly name: string
  /** Which flag keys it covers (`tools.k6.image` for `tools.<tool>.image`). */
  readonly matches: (flag: string) => boolean
  /** How the stored text becomes the value before the Schema checks it. */
  readonly kind: "boolean" | "integer" | "string"
  readonly schema: Schema.Codec<FlagValue>
  /** What a valid value is, as a user reads it in an error. */
  readonly allowed: string
  readonly defaultValue?: FlagValue | undefined
  readonly doc: string
  readonly scopes: ReadonlyArray<FlagScope>
}

const Channel = Schema.String.check(Schema.isPattern(tokenPattern, { message: "must be 1-64 characters of A-Z a-z 0-9 _ -" }))
/** An image reference or a path: one line, no NUL, bounded. */
const Reference = Schema.String.check(
  Schema.isMinLength(1),
  Schema.isMaxLength(512),
  Schema.makeFilter((s: string) => !/[\0\n\r]/.test(s) || "must be one line")
)
const AbsolutePath = Reference.check(Schema.makeFilter((s: string) => s.startsWith("/") || "must be an absolute path"))

const exact = (name: string) => (flag: string) => flag === name
const toolFlag = (tools: ReadonlyArray<string>, leaf: string) => (flag: string) => {
  const parts = flag.split(".")
  return parts.length === 3 && parts[0] === "tools" && parts[2] === leaf && tools.includes(parts[1]!)
}

export const flagDefs: ReadonlyArray<FlagDef> = [
  {
    name: "accept",
    matches: exact("accept"),
    kind: "boolean",
    schema: Schema.Boolean as Schema.Codec<FlagValue>,
    allowed: "true or false",
    defaultValue: true,
    doc: "false: the node refuses new starts (rejected, code paused); running tests go on. The fleet's pause button.",
    scopes
  },
  {
    name: "capacity",
    matches: exact("capacity"),
    kind: "integer",
    schema: Schema.Number.check(Schema.isInt(), Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(1024)) as Schema.Codec<FlagValue>,
    allowed: "a whole number from 1 to 1024",
    doc: "Tests the node runs at once (the daemon's --capacity when unset).",
    scopes
  },
  {
    name: "runner.default",
    matches: exact("runner.default"),
    kind: "string",
    schema: Schema.Literals(["process", "docker"]) as Schema.Codec<FlagValue>,
    allowed: "process or docker",
    doc: "Runner of a start that names none (the daemon's --default-runner when unset).",
    scopes
  },
  {
    name: "engine.client",
    matches: exact("engine.client"),
    kind: "string",
    schema: Schema.Literals(["lean", "undici"]) as Schema.Codec<FlagValue>,
    allowed: "lean or undici",
    doc: "HTTP client of the built-in engine, over the scenario's own `client`: revert the fast client per customer.",
    scopes
  },
  {
    name: "tools.<tool>.image",
    matches: toolFlag(imageTools, "image"),
    kind: "string",
    schema: Reference as Schema.Codec<FlagValue>,
    allowed: `an image reference (tools: ${imageTools.join(", ")})`,
    doc: "Image the docker runner starts for that tool when the start names none.",
    scopes
  },
  {
    name: "tools.<tool>.path",
    matches: toolFlag(pathTools, "path"),
    kind: "string",
    schema: AbsolutePath as Schema.Codec<FlagValue>,
    allowed: `an absolute path (tools: ${pathTools.join(", ")})`,
    doc: "Executable the process runner starts for that tool (over the daemon's --tool-path).",
    scopes
  },
  {
    name: "tools.browser.path",
    matches: exact("tools.browser.path"),
    kind: "string",
    schema: AbsolutePath as Schema.Codec<FlagValue>,
    allowed: "an absolute path",
    doc: "Chromium the built-in engine's browser scenarios drive (over the daemon's --tool-path browser=...; else the usual install paths).",
    scopes
  },
  {
    name: "launch.channel",
    matches: exact("launch.channel"),
    kind: "string",
    schema: Channel as Schema.Codec<FlagValue>,
    allowed: "a channel name (1-64 of A-Z a-z 0-9 _ -)",
    doc: "Grid-scoped: the channel `grid launch --grid G` selects nodes from when --channel is not given.",
    scopes: ["grid"]
  }
]

/** The flag's definition, when it is one. */
export const flagDef = (flag: string): FlagDef | undefined => flagDefs.find((d) => d.matches(flag))

/** The names a user may type, for a message naming them. */
export const flagNames = (): string => flagDefs.map((d) => d.name).join(", ")

const decoders = new Map(flagDefs.map((d) => [d, Schema.decodeUnknownResult(d.schema)] as const))

/** A stored (or typed) text as the flag's value, or one line saying why it is not one. */
export const decodeFlag = (def: FlagDef, text: string): Result.Result<FlagValue, string> => {
  const raw = text.trim()
  const pre: unknown = def.kind === "boolean"
    ? (raw === "true" ? true : raw === "false" ? false : raw)
    : def.kind === "integer"
    ? (/^-?\d+$/.test(raw) ? Number(raw) : raw)
    : raw
  const read = decoders.get(def)!(pre)
  return Result.isSuccess(read)
    ? Result.succeed(read.success)
    : Result.fail(`${JSON.stringify(text.slice(0, 80))} is not a valid ${def.name}: must be ${def.allowed}`)
}

/** The text stored for a value. */
export const encodeFlag = (value: FlagValue): string => String(value)

/** A bucket key, taken apart. */
export interface FlagKey {
  readonly scope: FlagScope
  /** The channel, grid or node; absent for global. */
  readonly target?: string | undefined
  readonly flag: string
}

export const keyOf = (k: FlagKey): string => (k.scope === "global" ? `global.${k.flag}` : `${k.scope}.${k.target}.${k.flag}`)

/** A bucket key taken apart, or undefined for a key that is not one of a flag's. */
export const parseKey = (key: string): FlagKey | undefined => {
  const [scope, ...rest] = key.split(".")
  if (scope === "global") return rest.length > 0 ? { scope, flag: rest.join(".") } : undefined
  if (scope !== "node" && scope !== "grid" && scope !== "channel") return undefined
  const [target, ...flag] = rest
  if (target === undefined || !isScopeTarget(target) || flag.length === 0) return undefined
  return { scope, target, flag: flag.join(".") }
}

/** Why a flag cannot be set at this scope, or undefined when it can. */
export const scopeProblem = (def: FlagDef, scope: FlagScope): string | undefined =>
  def.scopes.includes(scope) ? undefined : `${def.name} can only be set with ${def.scopes.map((s) => (s === "global" ? "no scope (global)" : `--${s}`)).join(" or ")}`
