// The dashboard's data feed: it samples its source (a run's NodeWindows, a launch's merged
// seconds) once a second, remembers the load (users or arrivals) each new point was taken with,
// and answers a reader with the points after the seq it last saw plus the state so far. A page
// that reconnects says where it stopped (Last-Event-ID) and catches up from there; a page
// opened mid-test asks from -1 and gets the whole test so far. Plain synchronous code: the
// server (Server.ts) calls `refresh` on its clock and `since` per connection.
import type { WindowPoint } from "../report/Summary.ts"
import type { DashboardData, DashboardMeta, LiveState } from "./Model.ts"

/** Where a live test's figures come from (Sources.ts adapts a run and a launch). */
export interface FeedSource {
  /** The points so far, in seq order. */
  readonly points: () => ReadonlyArray<WindowPoint>
  /** The summary so far (thresholds evaluated), the nodes, the problems. */
  readonly state: (now: number) => Omit<LiveState, "at" | "done">
  /** Users (closed model) or arrivals per second (open model) now, when known. */
  readonly load?: ((now: number) => number | undefined) | undefined
}

/** Seqs a launch's merger may still revise after showing them: re-sent with every delta. */
const REVISED = 3

export class DashboardFeed {
  private metaNow: DashboardMeta
  private readonly source: FeedSource
  private readonly loads = new Map<number, number>()
  /** Each point's JSON, by the point (a point replaced, such as the last one cut, is new). */
  private readonly pointText = new WeakMap<WindowPoint, string>()
  private sampled = 0
  private stateNow: LiveState | undefined = undefined
  /** How many points the source had when `stateNow` was taken. */
  private stateOf = -1
  /** The clock as of the last refresh (the server's, through Clock). */
  private lastNow = 0
  private final: { readonly points: ReadonlyArray<WindowPoint>; readonly state: LiveState } | undefined = undefined
  /** Told when the test has ended (the server ends its streams after the last delta). */
  private readonly onDone: Array<() => void> = []

  constructor(meta: DashboardMeta, source: FeedSource) {
    this.metaNow = meta
    this.source = source
  }

  get meta(): DashboardMeta {
    return this.metaNow
  }

  /** Fields learnt once the test has started (a launch's test id). */
  setMeta(patch: Partial<DashboardMeta>): void {
    this.metaNow = { ...this.metaNow, ...patch }
  }

  get done(): boolean {
    return this.final !== undefined
  }

  whenDone(f: () => void): void {
    if (this.final !== undefined) f()
    else this.onDone.push(f)
  }

  /** Remembers the load (users or arrivals) of each point new since the last call: cheap, so
   * `grid run` calls it as windows arrive, for its HTML report's load line, dashboard or not. */
  sampleLoad(now: number): void {
    const points = this.source.points()
    if (this.sampled >= points.length) return
    const load = this.source.load?.(now)
    for (; this.sampled < points.length; this.sampled++) {
      if (load !== undefined) this.loads.set(points[this.sampled]!.seq, load)
    }
  }

  /** The load of each point, by seq. */
  get load(): Readonly<Record<number, number>> {
    return Object.fromEntries(this.loads)
  }

  /** Samples the source: the state so far (the summary: histograms merged), and the load. */
  refresh(now: number): void {
    if (this.final !== undefined) return
    this.lastNow = now
    this.sampleLoad(now)
    this.stateOf = this.source.points().length
    this.stateNow = { ...this.source.state(now), done: false, at: now }
  }

  /** The test ended: its final points (partial last window cut) and state. */
  finish(points: ReadonlyArray<WindowPoint>, state: Omit<LiveState, "at" | "done">, now: number): void {
    if (this.final !== undefined) return
    this.refresh(now)
    this.final = { points, state: { ...state, done: true, at: now } }
    for (const f of this.onDone.splice(0)) f()
  }

  private get points(): ReadonlyArray<WindowPoint> {
    return this.final?.points ?? this.source.points()
  }

  private get state(): LiveState {
    if (this.final !== undefined) return this.final.state
    // Taken again when points came since: a message's table and tiles agree with its charts.
    if (this.stateNow === undefined || this.stateOf !== this.source.points().length) this.refresh(this.lastNow)
    return this.stateNow!
  }

  /** The points after `seq` (and the last few, which a merger may have revised), with their
   * load and the state; once done, every point (the last one was cut to its partial length). */
  since(seq: number): DashboardData {
    const all = this.points
    const from = this.final !== undefined ? -1 : seq - REVISED
    const points = all.filter((p) => p.seq > from)
    const load: Record<number, number> = {}
    for (const p of points) {
      const l = this.loads.get(p.seq)
      if (l !== undefined) load[p.seq] = l
    }
    return { meta: this.metaNow, points, load, state: this.state }
  }

  /** `since(seq)` as JSON, each point's text made once: a page opened an hour into a test is
   * sent 3600 points, and serialising them again for every such page would hold the
   * generating process's event loop for a noticeable time. */
  sinceJson(seq: number): { readonly json: string; readonly lastSeq: number; readonly done: boolean } {
    const d = this.since(seq)
    const points = d.points.map((p) => {
      let text = this.pointText.get(p)
      if (text === undefined) {
        text = JSON.stringify(p)
        this.pointText.set(p, text)
      }
      return text
    })
    const json = `{"meta":${JSON.stringify(d.meta)},"points":[${points.join(",")}],"load":${JSON.stringify(d.load)},"state":${JSON.stringify(d.state)}}`
    return { json, lastSeq: d.points.at(-1)?.seq ?? seq, done: d.state.done }
  }

  /** Seq of the newest point (-1 before the first). */
  get lastSeq(): number {
    return this.points.at(-1)?.seq ?? -1
  }

  /** Everything, as a page opened now (or the HTML report) is given it. */
  data(): DashboardData {
    return this.since(-1 - REVISED)
  }
}

/** A finished test's data, for the HTML report and `grid results --dashboard`. */
export const finishedData = (
  meta: DashboardMeta,
  points: ReadonlyArray<WindowPoint>,
  state: Omit<LiveState, "at" | "done">,
  at: number,
  load: Readonly<Record<number, number>> = {}
): DashboardData => ({ meta, points, load, state: { ...state, done: true, at } })
