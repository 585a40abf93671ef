// grid dashboard, part 3 of 4: the page's text: the header (title, test id, nodes, start,
// duration, command line, flags in force), the headline figures, and the tables: per label
// (from the summary, whose percentiles come from merged histograms), status codes and error
// messages, thresholds with their state, and a launch's nodes. Functions returning HTML.
"use strict"
;(function (G) {
  var e = G.esc

  G.header = function (model, conn) {
    var m = model.meta
    var s = model.state ? model.state.summary : null
    var nodes = model.state ? model.state.nodes : []
    var badge = { live: "live", connecting: "connecting", reconnecting: "reconnecting", ended: "ended", report: "report" }[conn] || conn
    var facts = [
      ["command", m.kind],
      m.testId ? ["test id", m.testId] : null,
      nodes.length > 0 ? ["nodes", nodes.length + ": " + nodes.map(function (n) { return n.nodeId }).join(", ")] : null,
      m.target ? ["target", m.target] : null,
      ["started", s && s.startedAt ? G.when(s.startedAt) : "-"],
      ["duration", (s ? G.clock(s.durationMs / 1000) : "-") + (m.plannedMs ? " of " + G.clock(m.plannedMs / 1000) + " planned" : "") + (s && s.interrupted ? " (interrupted)" : "")]
    ].filter(Boolean)
    var flags = Object.keys(m.flags || {})
    return "<div class=\"title\"><h1>" + e(m.title) + "</h1><span id=\"conn\" class=\"badge " + e(conn) + "\">" + e(badge) + "</span></div>" +
      "<dl class=\"facts\">" + facts.map(function (f) { return "<div><dt>" + e(f[0]) + "</dt><dd>" + e(f[1]) + "</dd></div>" }).join("") + "</dl>" +
      "<details class=\"cmd\"><summary><code>" + e(m.commandLine) + "</code></summary>" +
      (flags.length === 0 ? "" : "<table class=\"flags\"><tbody>" + flags.map(function (k) { return "<tr><th>" + e(k) + "</th><td>" + e(m.flags[k]) + "</td></tr>" }).join("") + "</tbody></table>") +
      "</details>"
  }

  G.stats = function (model) {
    var st = model.state
    if (!st) return ""
    var t = st.summary.total
    var last = null
    model.points.forEach(function (p) { if (last === null || p.seq > last.seq) last = p })
    // Live: the load now; once ended: its peak (the last window is the ramp-down).
    var loadNow = last ? model.load.get(last.seq) : undefined
    if (st.done && model.load.size > 0) loadNow = Math.max.apply(null, Array.from(model.load.values()))
    var loadName = (model.meta.load === "users" ? "users" : "arrivals/s") + (st.done ? " (peak)" : "")
    var tiles = [
      ["requests", "stat-requests", t.count, G.num(t.count)],
      ["requests/s", "stat-rps", t.rps, G.num(t.rps)],
      ["errors (" + G.pct(t.errors, t.count) + ")", "stat-errors", t.errors, G.num(t.errors)],
      ["p50 ms", "stat-p50", t.latencyMs.p50, G.ms(t.latencyMs.p50)],
      ["p95 ms", "stat-p95", t.latencyMs.p95, G.ms(t.latencyMs.p95)],
      ["p99 ms", "stat-p99", t.latencyMs.p99, G.ms(t.latencyMs.p99)]
    ]
    if (loadNow !== undefined) tiles.push([loadName, "stat-load", loadNow, G.num(loadNow)])
    return tiles.map(function (x) {
      return "<div class=\"stat" + (x[1] === "stat-errors" && x[2] > 0 ? " bad" : "") + "\"><span class=\"v\" id=\"" + x[1] + "\" data-value=\"" + x[2] + "\">" + e(x[3]) + "</span><span class=\"k\">" + e(x[0]) + "</span></div>"
    }).join("")
  }

  var table = function (id, head, rows, cls) {
    return "<table id=\"" + id + "\" class=\"" + (cls || "") + "\"><thead><tr>" + head.map(function (h) { return "<th>" + e(h) + "</th>" }).join("") +
      "</tr></thead><tbody>" + rows.join("") + "</tbody></table>"
  }

  G.summaryRows = function (s) {
    return s.labels.concat([s.total]).map(function (l) {
      return [l.label === "*" ? "TOTAL" : l.label, l.count, +l.rps.toFixed(2), l.errors, G.pct(l.errors, l.count),
        l.latencyMs.min, l.latencyMs.p50, l.latencyMs.p90, l.latencyMs.p95, l.latencyMs.p99, l.latencyMs.max]
    })
  }
  G.summaryHead = ["label", "count", "rps", "errors", "error %", "min ms", "p50", "p90", "p95", "p99", "max"]

  G.summaryTable = function (s) {
    var rows = G.summaryRows(s).map(function (r, i) {
      var total = i === s.labels.length
      return "<tr" + (total ? " class=\"total\"" : "") + ">" + r.map(function (v, j) {
        return "<td>" + e(j >= 5 ? G.ms(v) : j === 1 || j === 3 ? String(v) : v) + "</td>"
      }).join("") + "</tr>"
    })
    return table("summary-table", G.summaryHead, rows)
  }

  var isError = function (code) { return !/^[23]\d\d$/.test(code) }

  G.statusTable = function (s) {
    var labels = s.labels.slice(0, 12)
    var codes = Object.keys(s.total.status).sort(function (a, b) { return s.total.status[b] - s.total.status[a] })
    if (codes.length === 0) return "<p class=\"muted\">No responses yet.</p>"
    var rows = codes.map(function (c) {
      return "<tr" + (isError(c) ? " class=\"err\"" : "") + "><td>" + e(c) + "</td><td>" + s.total.status[c] + "</td><td>" + G.pct(s.total.status[c], s.total.count) + "</td>" +
        labels.map(function (l) { return "<td>" + (l.status[c] || 0) + "</td>" }).join("") + "</tr>"
    })
    return table("status-table", ["status or error", "total", "share"].concat(labels.map(function (l) { return l.label })), rows)
  }

  G.thresholdTable = function (s, done) {
    if (s.thresholds.length === 0) return "<p class=\"muted\">No thresholds.</p>"
    var rows = s.thresholds.map(function (t) {
      var none = t.actual === null || (typeof t.actual === "number" && isNaN(t.actual))
      var state = none ? "no samples" : t.ok ? "ok" : done ? "breached" : "breached so far"
      return "<tr class=\"" + (none ? "" : t.ok ? "ok" : "breach") + "\"><td>" + e(t.threshold) + "</td><td class=\"state\">" + e(state) + "</td><td>" +
        (none ? "-" : e(+Number(t.actual).toFixed(2))) + "</td></tr>"
    })
    return table("thresholds-table", ["threshold", "state", "actual"], rows)
  }

  G.nodeTable = function (nodes, done) {
    var rows = nodes.map(function (n) {
      return "<tr data-node=\"" + e(n.nodeId) + "\" class=\"" + e(n.status) + "\"><td>" + e(n.nodeId) + "</td><td class=\"st\">" + e(n.status) + "</td><td>" + e(n.share || "-") +
        "</td><td>" + n.count + "</td><td>" + n.errors + "</td><td>" + (done ? "-" : G.num(n.rps)) + "</td><td>" + n.windows + "</td><td>" +
        (n.late > 0 ? "<span class=\"late\">" + n.late + " s</span>" : "0") + "</td><td>" + e(n.error || "") + "</td></tr>"
    })
    return table("nodes-table", ["node", "state", "share of load", "requests", "errors", "rps (last second)", "windows", "late", "error"], rows)
  }
})(GridDash)
