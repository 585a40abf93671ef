// The JSONPath subset captures and checks use: `$`, then `.name`, `[index]` or `["name"]`
// steps (`$.items[0].id`, `$["x-y"].z`). Compiled once at load time, so a typo is a load
// error naming the request; no filters or wildcards, which would need a real engine.

export type Step = string | number

const stepPattern = /^(?:\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*'([^']*)'\s*\])/

/** The steps of a path, or a message saying what is wrong. */
export const parseJsonPath = (path: string): ReadonlyArray<Step> | string => {
  if (!path.startsWith("$")) return `"${path}" must start with $ (e.g. $.token, $.items[0].id)`
  const steps: Array<Step> = []
  let rest = path.slice(1)
  while (rest.length > 0) {
    const m = stepPattern.exec(rest)
    if (m === null) return `"${path}": cannot read "${rest}" (supported: .name, [index], ["name"])`
    if (m[1] !== undefined) steps.push(m[1])
    else if (m[2] !== undefined) steps.push(Number(m[2]))
    else if (m[3] !== undefined) steps.push(JSON.parse(`"${m[3]}"`) as string)
    else steps.push(m[4]!)
    rest = rest.slice(m[0].length)
  }
  return steps
}

/** The value at the path; `found: false` when a step is missing. */
export const evaluateJsonPath = (value: unknown, steps: ReadonlyArray<Step>): { found: boolean; value: unknown } => {
  let v = value
  for (const s of steps) {
    if (typeof s === "number") {
      if (!Array.isArray(v) || s >= v.length) return { found: false, value: undefined }
      v = v[s]
    } else {
      if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.hasOwn(v, s)) return { found: false, value: undefined }
      v = (v as Record<string, unknown>)[s]
    }
  }
  return { found: true, value: v }
}
