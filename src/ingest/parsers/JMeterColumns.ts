// The JMeter CSV JTL parser's tables: byte codes, which named column holds which field, the
// default column sets of JMeter 2.13 and 5, and the per-column roles the single-pass line
// scanner (JMeterCsv.ts) dispatches on. Kept apart so the parser file holds only the scans.
/** responseCode of an open-model arrival grid's engine could not send (no free connection). */
export const DROPPED = "dropped"

export const COMMA = 44
export const QUOTE = 34
export const DOT = 46
export const NL = 10
export const CR = 13

export interface Columns {
  ts: number
  elapsed: number
  label: number
  code: number
  message: number
  success: number
  failure: number
  bytes: number
  sent: number
  /** Highest column index needed. */
  max: number
}

export const columnsOf = (names: ReadonlyArray<string>): Columns | undefined => {
  const at = (n: string) => names.indexOf(n)
  const c = {
    ts: at("timeStamp"),
    elapsed: at("elapsed"),
    label: at("label"),
    code: at("responseCode"),
    message: at("responseMessage"),
    success: at("success"),
    failure: at("failureMessage"),
    bytes: at("bytes"),
    sent: at("sentBytes"),
    max: 0
  }
  if (c.ts < 0 || c.elapsed < 0 || c.label < 0) return undefined
  c.max = Math.max(c.ts, c.elapsed, c.label, c.code, c.message, c.success, c.failure, c.bytes, c.sent)
  return c
}

/** JMeter 2.13's default columns (no header written). */
export const JMETER_213_COLUMNS = [
  "timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType", "success",
  "bytes", "grpThreads", "allThreads", "Latency"
]
/** JMeter 5's default columns. */
export const JMETER_5_COLUMNS = [
  "timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType", "success",
  "failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "URL", "Latency", "IdleTime", "Connect"
]

export const R_SKIP = 0
export const R_LABEL = 1
export const R_CODE = 2
export const R_SUCCESS = 3
export const R_MESSAGE = 4
export const R_FAILURE = 5
// Numeric roles last: `role >= R_TS` selects the digit-parsing scan.
export const R_TS = 6
export const R_ELAPSED = 7
export const R_BYTES = 8
export const R_SENT = 9

export const rolesOf = (c: Columns): Uint8Array => {
  const r = new Uint8Array(c.max + 1).fill(R_SKIP)
  const set = (i: number, role: number) => {
    if (i >= 0) r[i] = role
  }
  set(c.label, R_LABEL)
  set(c.code, R_CODE)
  set(c.success, R_SUCCESS)
  set(c.message, R_MESSAGE)
  set(c.failure, R_FAILURE)
  set(c.ts, R_TS)
  set(c.elapsed, R_ELAPSED)
  set(c.bytes, R_BYTES)
  set(c.sent, R_SENT)
  return r
}

export const intOf = (s: string | undefined): number => (s !== undefined && /^\d+$/.test(s) ? Number(s) : NaN)
export const msOf = (s: string | undefined): number => (s !== undefined && /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN)
