// What the node reads back from a test's screenshots folder, against a real directory: regular
// files only (a symlink, a FIFO, a subfolder and an odd name are skipped; a `screenshots`
// that is itself a symlink is not followed), at most the store's count and bytes per test, and
// nothing at all when the node keeps no artifacts.
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ArtifactError, ArtifactStore } from "../src/runner/ArtifactStore.ts"
import { publishArtifacts } from "../src/runner/TestArtifacts.ts"

const workDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "grid-art-"))
  mkdirSync(join(dir, "screenshots"))
  return dir
}

describe("publishArtifacts", () => {
  it.effect("regular files with plain names only, within the count and byte bounds", () =>
    Effect.gen(function*() {
      const dir = workDir()
      const shots = join(dir, "screenshots")
      const outside = join(mkdtempSync(join(tmpdir(), "grid-out-")), "secret.png")
      writeFileSync(outside, "secret")
      writeFileSync(join(shots, "0001-a.png"), Buffer.alloc(10, 1))
      writeFileSync(join(shots, "0002-b.png"), Buffer.alloc(10, 2))
      writeFileSync(join(shots, "0003-c.png"), Buffer.alloc(10, 3))
      writeFileSync(join(shots, "0004-d.png"), Buffer.alloc(10, 4))
      writeFileSync(join(shots, "odd name.png"), "x")
      symlinkSync(outside, join(shots, "0000-link.png"))
      execFileSync("mkfifo", [join(shots, "0000-fifo.png")])
      mkdirSync(join(shots, "0000-sub"))
      const stored = new Map<string, Uint8Array>()
      const refs = yield* publishArtifacts("t1", dir).pipe(
        Effect.provide(ArtifactStore.memory(stored, "n1", { maxCount: 3, maxBytes: 25 }))
      )
      // 0001 and 0002 fit in 25 bytes; a third file of 10 would pass them.
      expect(refs.map((r) => r.name)).toEqual(["0001-a.png", "0002-b.png"])
      expect([...stored.keys()]).toEqual(["t1/n1/0001-a.png", "t1/n1/0002-b.png"])
      const many = new Map<string, Uint8Array>()
      const counted = yield* publishArtifacts("t2", dir).pipe(Effect.provide(ArtifactStore.memory(many, "n1", { maxCount: 3, maxBytes: 1000 })))
      expect(counted.map((r) => r.name)).toEqual(["0001-a.png", "0002-b.png", "0003-c.png"])
    }))

  it.effect("a screenshots folder that is a symlink is not followed; none keeps nothing", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "grid-art-"))
      const elsewhere = mkdtempSync(join(tmpdir(), "grid-else-"))
      writeFileSync(join(elsewhere, "0001-x.png"), "x")
      symlinkSync(elsewhere, join(dir, "screenshots"))
      const stored = new Map<string, Uint8Array>()
      expect(yield* publishArtifacts("t3", dir).pipe(Effect.provide(ArtifactStore.memory(stored, "n1")))).toEqual([])
      const real = workDir()
      writeFileSync(join(real, "screenshots", "0001-x.png"), "x")
      expect(yield* publishArtifacts("t4", real).pipe(Effect.provide(ArtifactStore.none))).toEqual([])
      expect(stored.size).toBe(0)
    }))
})

describe("a failing store", () => {
  it.effect("three failures in a row end the attempt (a store that is away does not hold the terminal event)", () =>
    Effect.gen(function*() {
      const dir = workDir()
      for (let i = 1; i <= 6; i++) writeFileSync(join(dir, "screenshots", `000${i}-x.png`), "x")
      let tries = 0
      const failing = Layer.succeed(ArtifactStore, ArtifactStore.of({
        keeps: true,
        limits: { maxCount: 100, maxBytes: 1000 },
        put: (testId, name) => Effect.suspend(() => (++tries, Effect.fail(new ArtifactError({ message: `${testId}/${name}: away` }))))
      }))
      expect(yield* publishArtifacts("t5", dir).pipe(Effect.provide(failing))).toEqual([])
      expect(tries).toBe(3)
    }))
})
