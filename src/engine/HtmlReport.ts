// `grid run --html`: one self-contained HTML file (inline CSS and SVG, no script, no
// network) with the summary table, the thresholds, and three charts over the run's
// per-second windows: requests/s, latency percentiles, errors. Charts are drawn here as
// SVG polylines so the file renders anywhere, offline.
import type { WindowPoint } from "../report/Summary.ts"
import type { RunSummary } from "../report/Summary.ts"

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)

interface Series {
  readonly name: string
  readonly color: string
  readonly values: ReadonlyArray<number>
}

const W = 760
const H = 220
const PAD = { left: 56, right: 12, top: 12, bottom: 28 }

const niceMax = (v: number): number => {
  if (v <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  const m = v / p
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p
}

const chart = (id: string, title: string, unit: string, xs: ReadonlyArray<number>, series: ReadonlyArray<Series>): string => {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)))
  const last = Math.max(1, xs.length - 1)
  const iw = W - PAD.left - PAD.right
  const ih = H - PAD.top - PAD.bottom
  const x = (i: number) => PAD.left + (xs.length <= 1 ? iw / 2 : (i / last) * iw)
  const y = (v: number) => PAD.top + ih - (v / max) * ih
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = max * f
    return `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>` +
      `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`
  }).join("")
  const ticks = xs.length === 0 ? "" : [0, Math.floor(last / 2), last].filter((v, i, a) => a.indexOf(v) === i).map((i) =>
    `<text x="${x(i)}" y="${H - 8}" text-anchor="middle">${xs[i]} s</text>`
  ).join("")
  const lines = series.map((s) =>
    s.values.length === 1
      ? `<circle cx="${x(0)}" cy="${y(s.values[0]!)}" r="3" fill="${s.color}" data-series="${esc(s.name)}"/>`
      : `<polyline fill="none" stroke="${s.color}" stroke-width="2" data-series="${esc(s.name)}" points="${
        s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")
      }"/>`
  ).join("")
  const legend = series.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join("")
  return `<section class="chart" id="${id}"><h2>${esc(title)} <small>(${esc(unit)})</small></h2><div class="legend">${legend}</div>` +
    `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${grid}${ticks}${lines}</svg></section>`
}

export const htmlReport = (title: string, summary: RunSummary, points: ReadonlyArray<WindowPoint>): string => {
  const xs = points.map((p) => p.seq + 1)
  const rows = [...summary.labels, summary.total].map((l) =>
    `<tr${l.label === "*" ? ' class="total"' : ""}><td>${esc(l.label === "*" ? "TOTAL" : l.label)}</td><td>${l.count}</td><td>${l.rps.toFixed(1)}</td>` +
    `<td>${l.errors}</td>${[l.latencyMs.min, l.latencyMs.p50, l.latencyMs.p90, l.latencyMs.p95, l.latencyMs.p99, l.latencyMs.max]
      .map((v) => `<td>${v.toFixed(2)}</td>`).join("")}</tr>`
  ).join("")
  const thresholds = summary.thresholds.length === 0 ? "" :
    `<h2>Thresholds</h2><ul class="thresholds">${summary.thresholds.map((t) =>
      `<li class="${t.ok ? "ok" : "breach"}">${t.ok ? "ok" : "BREACHED"}: ${esc(t.threshold)} (actual ${Number.isNaN(t.actual) ? "no samples" : +t.actual.toFixed(2)})</li>`
    ).join("")}</ul>`
  const started = new Date(summary.startedAt).toISOString()
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:820px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}
td:first-child,th:first-child{text-align:left}tr.total td{font-weight:bold}
.chart svg{background:#fafafa;border:1px solid #e4e4e4}.chart text{font-size:11px;fill:#555}.grid{stroke:#e4e4e4}
.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.breach{color:#b00020;font-weight:bold}.ok{color:#1b5e20}
</style></head><body>
<h1>${esc(title)}</h1>
<p>Started ${esc(started)}, ${(summary.durationMs / 1000).toFixed(1)} s${summary.interrupted ? " (interrupted)" : ""},
${summary.total.count} requests, ${summary.total.errors} errors${summary.dropped > 0 ? `, ${summary.dropped} dropped arrivals` : ""}.</p>
<table id="summary"><thead><tr><th>label</th><th>count</th><th>rps</th><th>errors</th><th>min ms</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr></thead><tbody>${rows}</tbody></table>
${thresholds}
${chart("chart-rps", "Requests per second", "req/s", xs, [{ name: "requests/s", color: "#1565c0", values: points.map((p) => p.count / (p.durationMs / 1000)) }])}
${chart("chart-latency", "Latency percentiles", "ms", xs, [
    { name: "p50", color: "#2e7d32", values: points.map((p) => p.latencyMs.p50) },
    { name: "p90", color: "#f9a825", values: points.map((p) => p.latencyMs.p90) },
    { name: "p95", color: "#ef6c00", values: points.map((p) => p.latencyMs.p95) },
    { name: "p99", color: "#c62828", values: points.map((p) => p.latencyMs.p99) }
  ])}
${chart("chart-errors", "Errors per second", "errors/s", xs, [{ name: "errors/s", color: "#b00020", values: points.map((p) => p.errors / (p.durationMs / 1000)) }])}
</body></html>
`
}
