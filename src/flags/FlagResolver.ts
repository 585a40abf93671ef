// The flags a node runs under, resolved from the bucket's valid entries with the precedence of
// issue #13: node > grid > channel > global > the daemon's own flag/env value > the built-in
// default; each value says where it came from (`grid flags effective` prints it, the
// `accepted` event carries the values). Pure: NodeFlags.ts feeds it, the CLI calls it too.
import { type FlagScope, type FlagValue, flagDef, flagDefs, keyOf, parseKey } from "./FlagRegistry.ts"

/** A valid value read from the bucket. */
export interface StoredFlag {
  readonly value: FlagValue
  readonly revision: number
}

export type FlagSource = FlagScope | "daemon" | "default"

export interface ResolvedFlag {
  readonly value: FlagValue
  readonly source: FlagSource
  /** The bucket key and revision, when the value came from the bucket. */
  readonly key?: string | undefined
  readonly revision?: number | undefined
}

export interface NodeIdentity {
  readonly nodeId: string
  readonly gridId: string
  readonly channel: string
}

export interface EffectiveFlags {
  /** Every flag with a value, by flag key (`capacity`, `tools.k6.image`). */
  readonly flags: Readonly<Record<string, ResolvedFlag>>
  /** The highest bucket revision applied (0: none). */
  readonly revision: number
}

/** The scope keys of a flag for this node, narrowest first. */
const candidates = (node: NodeIdentity, flag: string): ReadonlyArray<readonly [FlagScope, string]> => [
  ["node", keyOf({ scope: "node", target: node.nodeId, flag })],
  ["grid", keyOf({ scope: "grid", target: node.gridId, flag })],
  ["channel", keyOf({ scope: "channel", target: node.channel, flag })],
  ["global", keyOf({ scope: "global", flag })]
]

export const resolveFlags = (
  stored: ReadonlyMap<string, StoredFlag>,
  node: NodeIdentity,
  daemon: Readonly<Record<string, FlagValue>>,
  revision: number
): EffectiveFlags => {
  // Every flag key that has a value somewhere: defaults, the daemon's, and the bucket's.
  const names = new Set<string>()
  for (const d of flagDefs) if (d.defaultValue !== undefined) names.add(d.name)
  for (const k of Object.keys(daemon)) names.add(k)
  for (const key of stored.keys()) {
    const parsed = parseKey(key)
    if (parsed !== undefined) names.add(parsed.flag)
  }
  const flags: Record<string, ResolvedFlag> = {}
  for (const flag of [...names].sort()) {
    const def = flagDef(flag)
    if (def === undefined) continue
    const hit = candidates(node, flag).find(([scope, key]) => def.scopes.includes(scope) && stored.has(key))
    if (hit !== undefined) {
      const s = stored.get(hit[1])!
      flags[flag] = { value: s.value, source: hit[0], key: hit[1], revision: s.revision }
    } else if (Object.hasOwn(daemon, flag)) {
      flags[flag] = { value: daemon[flag]!, source: "daemon" }
    } else if (def.defaultValue !== undefined) {
      flags[flag] = { value: def.defaultValue, source: "default" }
    }
  }
  return { flags, revision }
}

/** The values alone, as the `accepted` event carries them. */
export const flagValues = (e: EffectiveFlags): Record<string, FlagValue> =>
  Object.fromEntries(Object.entries(e.flags).map(([k, r]) => [k, r.value]))

/** A flag's value when it is a string (runner, client, image, path). */
export const stringFlag = (e: EffectiveFlags | undefined, flag: string): string | undefined => {
  const v = e?.flags[flag]?.value
  return typeof v === "string" ? v : undefined
}
export const numberFlag = (e: EffectiveFlags | undefined, flag: string): number | undefined => {
  const v = e?.flags[flag]?.value
  return typeof v === "number" ? v : undefined
}
export const booleanFlag = (e: EffectiveFlags | undefined, flag: string): boolean | undefined => {
  const v = e?.flags[flag]?.value
  return typeof v === "boolean" ? v : undefined
}
