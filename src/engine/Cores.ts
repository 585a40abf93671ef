// How many cores this process may use: the default number of engine workers on a node
// (`grid daemon --engine-workers`, `grid run`, `grid engine`). `os.availableParallelism()`
// counts the CPUs the process may be scheduled on (its affinity mask), but a container limited
// with `--cpus 2` still sees every CPU of the host: its limit is a CFS quota in the cgroup
// (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`). Running 16 workers in 2 cores'
// worth of quota would only add switching, so the quota bounds the count (rounded up: 2.5 cores
// of quota keeps 3 workers busy). Linux only; elsewhere the parallelism alone.
import { readFileSync } from "node:fs"
import { availableParallelism } from "node:os"

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8").trim()
  } catch {
    return undefined
  }
}

/** Cores' worth of CFS quota ("max" or none: undefined), from the text of the cgroup files. */
export const quotaCores = (cpuMax: string | undefined, v1Quota?: string, v1Period?: string): number | undefined => {
  if (cpuMax !== undefined) {
    const [quota, period] = cpuMax.split(/\s+/)
    if (quota === undefined || quota === "max") return undefined
    const q = Number(quota)
    const p = Number(period ?? 100000)
    return q > 0 && p > 0 ? q / p : undefined
  }
  if (v1Quota === undefined) return undefined
  const q = Number(v1Quota)
  const p = Number(v1Period ?? 100000)
  return q > 0 && p > 0 ? q / p : undefined
}

/** The process's own cgroup path under the v2 hierarchy ("0::/path" in /proc/self/cgroup). */
const v2Path = (): string => {
  const line = read("/proc/self/cgroup")?.split("\n").find((l) => l.startsWith("0::"))
  return line === undefined ? "/" : line.slice(3)
}

/** The cores this process may use: its parallelism bounded by its cgroup's CPU quota. */
export const availableCores = (): number => {
  const parallel = availableParallelism()
  const path = v2Path()
  const quota = quotaCores(read(`/sys/fs/cgroup${path === "/" ? "" : path}/cpu.max`) ?? read("/sys/fs/cgroup/cpu.max")) ??
    quotaCores(undefined, read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") ?? read("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"), read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") ?? read("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us"))
  return quota === undefined ? parallel : Math.max(1, Math.min(parallel, Math.ceil(quota - 1e-9)))
}
