// What the HTTP benchmarks share (engine, flows, workers): nginx-light as the target, free
// loopback ports, and a generator run pinned to core 1 with the CPU it used. One copy, so the
// peers every bench compares against are measured the same way.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { connect, createServer } from "node:net"
import { join } from "node:path"

export const freePort = () =>
  new Promise<number>((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port
      s.close(() => ok(p))
    })
  })

export const waitPort = async (port: number, tries = 100) => {
  for (let i = 0; i < tries; i++) {
    const up = await new Promise<boolean>((ok) => {
      const s = connect(port, "127.0.0.1", () => (s.destroy(), ok(true)))
      s.on("error", () => ok(false))
    })
    if (up) return
    await new Promise((ok) => setTimeout(ok, 50))
  }
  throw new Error(`nothing listens on ${port}`)
}

export interface NginxOptions {
  /** Folder for its config, pid and temp files (one per instance). */
  readonly dir: string
  readonly workers?: number
  readonly workerConnections?: number
  /** Pinned to this core with taskset; unpinned without. */
  readonly core?: number
  /** More `location` blocks inside the server (a JSON login for the flows bench). */
  readonly locations?: string
}

/** nginx-light answering "hello world" on a free loopback port. */
export const startNginx = async (o: NginxOptions): Promise<{ url: string; proc: ChildProcess }> => {
  const port = await freePort()
  const dir = o.dir
  mkdirSync(join(dir, "logs"), { recursive: true })
  writeFileSync(join(dir, "nginx.conf"), `worker_processes ${o.workers ?? 1};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${o.workerConnections ?? 4096}; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 "hello world\\n"; }${o.locations ?? ""}
  }
}
`)
  const argv = ["nginx", "-p", dir, "-c", join(dir, "nginx.conf")]
  const proc = o.core === undefined ? spawn(argv[0]!, argv.slice(1), { stdio: "ignore" }) : spawn("taskset", ["-c", String(o.core), ...argv], { stdio: "ignore" })
  await waitPort(port, 200)
  return { url: `http://127.0.0.1:${port}`, proc }
}

/** Runs `cmd` pinned to core 1; also returns the CPU it used (user + system, s) from bash's `times`. */
export const runPinned = (cmd: string, args: Array<string>): { stdout: string; cpu: number } => {
  const r = spawnSync("bash", ["-c", `"$@" && times >&2`, "bash", "taskset", "-c", "1", cmd, ...args], { encoding: "utf8", maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`)
  const t = [...r.stderr.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].at(-1)
  const cpu = t === undefined ? Number.NaN : Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4])
  return { stdout: r.stdout, cpu }
}
