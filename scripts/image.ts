// `npm run image [-- --tag grid:latest]`: builds the Dockerfile's FROM-scratch image from what is
// on this machine: dist/grid (`npm run build` first), every shared library `ldd` lists for it
// and for the docker CLI, the CA bundle, and a passwd/group naming uid 10001. The build context
// is a staged folder, so the image holds exactly these files; it takes seconds and no network.
import { execFileSync } from "node:child_process"
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

const root = join(import.meta.dirname, "..")
const args = process.argv.slice(2)
const tag = args.includes("--tag") ? args[args.indexOf("--tag") + 1]! : "grid:latest"
const fail = (message: string): never => {
  console.error(`image: ${message}`)
  process.exit(1)
}

const grid = join(root, "dist/grid")
if (!existsSync(grid)) fail("dist/grid is missing: run `npm run build` first")
const which = (cmd: string): string => {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim()
  } catch {
    return fail(`\`${cmd}\` is not on PATH`)
  }
}
const docker = which("docker")
const caBundle = "/etc/ssl/certs/ca-certificates.crt"
if (!existsSync(caBundle)) fail(`${caBundle} is missing (Debian package ca-certificates)`)

/** The absolute paths of the libraries a binary loads, the dynamic loader included; none for a static one. */
const librariesOf = (binary: string): Array<string> => {
  let out: string
  try {
    out = execFileSync("ldd", [binary], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch {
    return [] // "not a dynamic executable"
  }
  return out.split("\n").flatMap((line) => {
    const m = line.match(/=>\s+(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/)
    return m ? [m[1]!] : []
  })
}

const stage = mkdtempSync(join(tmpdir(), "grid-image-"))
try {
  const rootfs = join(stage, "rootfs")
  const put = (from: string, to: string, mode?: number) => {
    mkdirSync(dirname(join(rootfs, to)), { recursive: true })
    copyFileSync(from, join(rootfs, to)) // follows symlinks: the image gets the real file
    if (mode !== undefined) chmodSync(join(rootfs, to), mode)
  }
  put(grid, "/usr/local/bin/grid", 0o755)
  put(docker, "/usr/local/bin/docker", 0o755)
  for (const lib of new Set([...librariesOf(grid), ...librariesOf(docker)])) put(lib, lib)
  put(caBundle, caBundle)
  mkdirSync(join(rootfs, "etc"), { recursive: true })
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/nonexistent\ngrid:x:10001:10001:grid:/var/lib/grid:/nonexistent\n")
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\ngrid:x:10001:\n")
  mkdirSync(join(rootfs, "tmp"))
  chmodSync(join(rootfs, "tmp"), 0o1777)
  mkdirSync(join(stage, "home/work"), { recursive: true })
  copyFileSync(join(root, "Dockerfile"), join(stage, "Dockerfile"))
  const started = performance.now()
  // The classic builder: FROM scratch needs nothing else, and BuildKit may not be installed.
  execFileSync("docker", ["build", "-q", "-t", tag, stage], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, DOCKER_BUILDKIT: "0" } })
  const size = execFileSync("docker", ["image", "inspect", "-f", "{{.Size}}", tag], { encoding: "utf8" }).trim()
  console.log(`image: ${tag} (${(Number(size) / 1024 / 1024).toFixed(0)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`)
} finally {
  rmSync(stage, { recursive: true, force: true })
}
