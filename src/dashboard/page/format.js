// grid dashboard, part 1 of 4: the namespace, number and time formats, the series derived from
// the points (rates per second, the last partial window apart), CSV and file downloads. Plain
// browser JavaScript with no imports: Page.ts inlines these files, in order, into one document.
"use strict"
var GridDash = (window.GridDash = window.GridDash || {})

GridDash.esc = function (s) {
  return String(s).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c]
  })
}

GridDash.ms = function (v) {
  if (v == null || !isFinite(v)) return "-"
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}

GridDash.num = function (v) {
  if (v == null || !isFinite(v)) return "-"
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + "M"
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + "k"
  return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1)
}

GridDash.pct = function (part, whole) {
  return whole > 0 ? ((100 * part) / whole).toFixed(2) + "%" : "0%"
}

/** Seconds as m:ss (or h:mm:ss). */
GridDash.clock = function (s) {
  if (s == null || !isFinite(s)) return "-"
  var t = Math.max(0, Math.round(s))
  var h = Math.floor(t / 3600)
  var m = Math.floor((t % 3600) / 60)
  var ss = String(t % 60).padStart(2, "0")
  return h > 0 ? h + ":" + String(m).padStart(2, "0") + ":" + ss : m + ":" + ss
}

GridDash.when = function (epochMs) {
  if (!epochMs) return "-"
  var d = new Date(epochMs)
  return d.toLocaleString() + " (" + d.toISOString().replace(".000Z", "Z") + ")"
}

/** The points in seq order and the columns every chart reads: x is the end of each window in
 * seconds from the start; a window shorter than the window length (the run's last) is partial. */
GridDash.columns = function (model) {
  var pts = Array.from(model.points.values()).sort(function (a, b) { return a.seq - b.seq })
  var wms = model.meta.windowMs || 1000
  var labels = []
  var seen = {}
  ;(model.state ? model.state.summary.labels : []).forEach(function (l) { seen[l.label] = true; labels.push(l.label) })
  pts.forEach(function (p) {
    Object.keys(p.labels).forEach(function (l) { if (!seen[l]) { seen[l] = true; labels.push(l) } })
  })
  var partial = pts.map(function (p) { return p.durationMs < wms * 0.98 })
  return {
    pts: pts,
    labels: labels,
    partial: partial,
    x: pts.map(function (p) { return (p.seq * wms + Math.min(p.durationMs, wms)) / 1000 }),
    rate: function (f) {
      return pts.map(function (p) { return f(p) / Math.max(0.001, p.durationMs / 1000) })
    },
    pick: function (f) { return pts.map(f) }
  }
}

/** A rate series split in two: the full windows, and the segment into a partial window (drawn
 * dashed, so a last short second does not read as a drop). */
GridDash.splitPartial = function (values, partial) {
  var full = values.map(function (v, i) { return partial[i] ? null : v })
  var part = values.map(function (v, i) {
    if (partial[i]) return v
    return i + 1 < values.length && partial[i + 1] ? v : null
  })
  return { full: full, part: part, any: partial.some(Boolean) }
}

GridDash.csv = function (header, rows) {
  var cell = function (v) {
    if (v == null) return ""
    var s = String(v)
    return /[",\n\r]/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s
  }
  return [header].concat(rows).map(function (r) { return r.map(cell).join(",") }).join("\n") + "\n"
}

GridDash.download = function (blob, name) {
  var a = document.createElement("a")
  a.href = URL.createObjectURL(blob)
  a.download = name
  document.body.appendChild(a)
  a.click()
  setTimeout(function () { URL.revokeObjectURL(a.href); a.remove() }, 1000)
}

GridDash.slug = function (s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "grid"
}
