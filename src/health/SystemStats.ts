// Host figures for the heartbeat: cores, load, CPU use since the previous reading, memory,
// and free disk where the work directories live. Plain Node calls, read once per heartbeat.
import * as fs from "node:fs"
import * as os from "node:os"
import type { Heartbeat } from "../protocol/health.ts"

type Times = { idle: number; total: number }

const cpuTimes = (): Times =>
  os.cpus().reduce(
    (acc, c) => {
      const t = c.times
      return { idle: acc.idle + t.idle, total: acc.total + t.user + t.nice + t.sys + t.idle + t.irq }
    },
    { idle: 0, total: 0 }
  )

const MB = 1024 * 1024

/** A stateful reader: CPU use is the share of non-idle time since the last call. */
export const makeStatsReader = (workDir: string) => {
  let last = cpuTimes()
  return (): Pick<Heartbeat, "cpu" | "memory" | "disk"> => {
    const now = cpuTimes()
    const total = now.total - last.total
    const usagePct = total > 0 ? Math.round(((total - (now.idle - last.idle)) / total) * 1000) / 10 : 0
    last = now
    let freeMb = -1
    try {
      const s = fs.statfsSync(fs.existsSync(workDir) ? workDir : os.tmpdir())
      freeMb = Math.floor((s.bavail * s.bsize) / MB)
    } catch {
      // unknown: reported as -1
    }
    return {
      cpu: { cores: os.cpus().length, load1: Math.round(os.loadavg()[0]! * 100) / 100, usagePct },
      memory: {
        totalMb: Math.floor(os.totalmem() / MB),
        freeMb: Math.floor(os.freemem() / MB),
        rssMb: Math.floor(process.memoryUsage.rss() / MB)
      },
      disk: { workDir, freeMb }
    }
  }
}
