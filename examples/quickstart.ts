// `npm run quickstart`: the README's first command. Starts the demo target (`grid target`,
// with a slow path that sometimes fails) on a free loopback port, runs examples/quickstart.yaml
// against it with `grid run` (live progress, summary table, HTML and JSON reports), stops the
// target, and exits with grid run's exit code (non-zero if a threshold was breached).
import { spawn, spawnSync } from "node:child_process"
import * as net from "node:net"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const main = path.join(root, "src/cli/main.ts")
const port = await new Promise<number>((resolve) => {
  const srv = net.createServer().listen(0, "127.0.0.1", () => {
    const p = (srv.address() as net.AddressInfo).port
    srv.close(() => resolve(p))
  })
})
const target = spawn(process.execPath, [main, "target", "--port", String(port), "--host", "127.0.0.1", "--route", "/slow=40,0.01"], {
  stdio: ["ignore", "ignore", "inherit"]
})
for (let i = 0; i < 100; i++) {
  const up = await new Promise<boolean>((r) => {
    const s = net.connect(port, "127.0.0.1", () => (s.destroy(), r(true))).on("error", () => r(false))
  })
  if (up) break
  await new Promise((r) => setTimeout(r, 50))
}
const run = spawnSync(
  process.execPath,
  [main, "run", path.join(root, "examples/quickstart.yaml"), "--target", `http://127.0.0.1:${port}`, "--out", "quickstart-summary.json", "--html", "quickstart-report.html"],
  { stdio: "inherit" }
)
target.kill("SIGTERM")
console.log("\nreports: quickstart-report.html (open in a browser), quickstart-summary.json")
process.exit(run.status ?? 1)
