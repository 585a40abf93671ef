// The command decoder on its own: every rejection carries a protocol code and a message that
// names the problem; unknown fields are ignored; paths are checked statically.
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { checkRelativePath, decodeCommand } from "../src/control/decodeCommand.ts"

const bytes = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v))
const decode = (v: unknown, max = 1 << 20) => decodeCommand(bytes(v), max)
const rejection = (v: unknown, max?: number) => {
  const r = decode(v, max)
  if (Result.isSuccess(r)) throw new Error("expected a rejection")
  return r.failure
}

describe("decodeCommand", () => {
  it("accepts every command kind and ignores unknown fields", () => {
    const start = decode({ kind: "start", commandId: "c", testId: "t", tool: "command", future: { x: 1 }, params: { command: ["true"] } })
    expect(Result.isSuccess(start) && start.success).toMatchObject({ kind: "start", testId: "t" })
    expect(Result.isSuccess(decode({ kind: "stop", commandId: "c", testId: "t", graceSeconds: 0 }))).toBe(true)
    expect(Result.isSuccess(decode({ kind: "go", commandId: "c", testId: "t" }))).toBe(true)
    expect(Result.isSuccess(decode({ kind: "drain", commandId: "c" }))).toBe(true)
  })

  it("rejects what it cannot read, keeping the testId and commandId it could", () => {
    expect(rejection("{").code).toBe("invalid_command")
    expect(rejection("[1]").message).toContain("JSON object")
    expect(decodeCommand(new Uint8Array([0x7b, 0xff, 0x7d]), 100)).toMatchObject({ failure: { code: "invalid_command" } })
    expect(rejection({ kind: "start", commandId: "c", testId: "t", tool: "command", files: [] }, 10).message).toContain("limit of 10")
    expect(rejection({ kind: "nuke", commandId: "c", testId: "t" })).toMatchObject({ code: "invalid_command", testId: "t", commandId: "c" })
    const bad = rejection({ kind: "start", commandId: "c", testId: "t", tool: "command", startAt: "tomorrow-ish" })
    expect(bad.message).toContain("startAt")
    expect(rejection({ kind: "start", commandId: "c", testId: "a/b", tool: "command" }).testId).toBeUndefined()
    expect(rejection({ kind: "start", commandId: "x".repeat(129), testId: "t", tool: "command" }).commandId).toBeUndefined()
    expect(rejection({ kind: "start", commandId: "c", testId: "t", tool: "wrk" })).toMatchObject({ code: "unsupported_tool" })
    expect(rejection({ kind: "start", commandId: "c", testId: "t", tool: "command", entry: "../plan.jmx" }).message).toContain("entry")
  })

  it("checks relative paths", () => {
    expect(checkRelativePath("a/b.txt")).toBeUndefined()
    expect(checkRelativePath("./a/../b")).toBeUndefined()
    expect(checkRelativePath("/etc/passwd")).toBe("is absolute")
    expect(checkRelativePath("a/../../b")).toBe("escapes the work directory")
    expect(checkRelativePath("..")).toBe("escapes the work directory")
    expect(checkRelativePath("a/..")).toBe("names the work directory itself")
    expect(checkRelativePath("a\0b")).toBe("contains a NUL byte")
  })
})
