// `${name}` in a request's path, header values and body: compiled once at load time into a
// function of the user's environment (its captured variables, its data row, its number and
// iteration) so the hot path never scans text. Lookup order: the user's captures (setup's
// included), then the data row's columns, then the built-ins. Substituted values are made
// safe for where they land: no whitespace or non-ASCII in a path, no CR/LF in a header, JSON-escaped in a
// body the scenario gave as JSON.
import { randomUUID } from "node:crypto"

/** What a template reads; the user's Cursor (Iteration.ts) is one. */
export interface Env {
  readonly row: Readonly<Record<string, string>> | undefined
  readonly vars: Readonly<Record<string, string>>
  /** The user's number (1-based; an open-model arrival's number). */
  readonly vu: number
  /** Iterations the user has completed. */
  readonly iterations: number
}

export type Where = "path" | "header" | "body" | "json"
export type Template = (env: Env) => string

const variable = /\$\{([^}]*)\}/g
const randomIntPattern = /^randomInt\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)$/

/** The built-in a name denotes, undefined when it is none. */
export const builtin = (name: string): ((env: Env) => string) | undefined => {
  switch (name) {
    case "vu":
      return (env) => String(env.vu)
    case "iteration":
      return (env) => String(env.iterations)
    case "uuid":
      return () => randomUUID()
    case "timestamp":
      return () => String(Date.now())
  }
  const m = randomIntPattern.exec(name)
  if (m === null) return undefined
  const a = Math.min(Number(m[1]), Number(m[2]))
  const span = Math.abs(Number(m[2]) - Number(m[1])) + 1
  return () => String(a + Math.floor(Math.random() * span))
}

/** Every `${name}` a text uses, in order. */
export const variablesIn = (text: string): Array<string> => [...text.matchAll(variable)].map((m) => m[1]!)

const escapers: Record<Where, (v: string) => string> = {
  // Spaces, controls and non-ASCII percent-encoded; an already encoded `%2F` stays as it is.
  path: (v) => v.replace(/[^\x21-\x7e]/gu, encodeURIComponent),
  header: (v) => v.replace(/[\r\n]/g, ""),
  body: (v) => v,
  json: (v) => JSON.stringify(v).slice(1, -1)
}

export type Part = string | ((env: Env) => string)

/** A text as literal pieces and substitutions, for joining with other templates. */
export const templateParts = (text: string, where: Where): Array<Part> => {
  const escape = escapers[where]
  const parts: Array<Part> = []
  let last = 0
  for (const m of text.matchAll(variable)) {
    if (m.index > last) parts.push(text.slice(last, m.index))
    const name = m[1]!
    const b = builtin(name)
    parts.push((env) => escape(env.vars[name] ?? env.row?.[name] ?? (b === undefined ? "" : b(env))))
    last = m.index + m[0].length
  }
  if (last < text.length) parts.push(text.slice(last))
  return parts
}

/** Joins parts into one function, adjacent literals merged. */
export const joinParts = (parts: ReadonlyArray<Part>): Template => {
  const merged: Array<Part> = []
  for (const p of parts) {
    const prev = merged.length - 1
    if (typeof p === "string" && typeof merged[prev] === "string") merged[prev] = (merged[prev] as string) + p
    else if (p !== "") merged.push(p)
  }
  return (env) => {
    let out = ""
    for (let i = 0; i < merged.length; i++) {
      const p = merged[i]!
      out += typeof p === "string" ? p : p(env)
    }
    return out
  }
}

/** A text without `${` stays a constant (undefined: nothing to substitute). */
export const compileTemplate = (text: string, where: Where): Template | undefined =>
  text.includes("${") ? joinParts(templateParts(text, where)) : undefined
