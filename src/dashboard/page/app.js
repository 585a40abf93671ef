// grid dashboard, part 4 of 4: the page's state and its feed. A report has its data embedded
// (#grid-data); a live page reads server-sent events (#grid-live): each message carries the
// points after the last seq it was sent, merged here by seq, and the state so far. On a drop the
// page reconnects with the seq it has (so the server sends only what it missed) and backs off
// up to 2 s; the `end` event carries the final figures and closes the stream.
"use strict"
;(function (G) {
  var model = { meta: null, points: new Map(), load: new Map(), state: null }
  var conn = "connecting"
  var lastSeq = -1
  var charts = null
  var scheduled = false
  var app = document.getElementById("app")

  app.innerHTML =
    "<header id=\"head\"></header><section id=\"stats\" class=\"stats\"></section><div id=\"problems\"></div>" +
    "<section class=\"panel\" id=\"nodes-panel\" hidden><h2>Nodes</h2><div id=\"nodes\"></div></section>" +
    "<section class=\"panel\" id=\"thresholds-panel\"><h2>Thresholds</h2><div id=\"thresholds\"></div></section>" +
    "<div id=\"charts\" class=\"charts\"></div>" +
    "<section class=\"panel\"><h2>By label <button type=\"button\" id=\"labels-csv\" title=\"Download the table as CSV\">CSV</button></h2><div id=\"labels\" class=\"scroll\"></div></section>" +
    "<section class=\"panel\"><h2>Status codes and errors</h2><div id=\"status\" class=\"scroll\"></div></section>" +
    "<p class=\"save\"><button type=\"button\" id=\"save-report\" title=\"One HTML file with everything on this page, to open offline or share\">Save as HTML report</button></p>" +
    "<footer class=\"muted\">grid &middot; latency percentiles from merged HdrHistograms, per window and over the test &middot; a dashed segment is a partial window</footer>"
  charts = new G.Charts(document.getElementById("charts"))
  var $ = function (id) { return document.getElementById(id) }

  var apply = function (d) {
    model.meta = d.meta
    d.points.forEach(function (p) {
      model.points.set(p.seq, p)
      if (p.seq > lastSeq) lastSeq = p.seq
    })
    Object.keys(d.load).forEach(function (k) { model.load.set(Number(k), d.load[k]) })
    model.state = d.state
    schedule()
  }

  var schedule = function () {
    if (scheduled) return
    scheduled = true
    requestAnimationFrame(function () { scheduled = false; render() })
  }

  var render = function () {
    if (!model.meta) return
    document.title = model.meta.title + (conn === "live" ? " (live)" : "")
    $("head").innerHTML = G.header(model, conn)
    $("stats").innerHTML = G.stats(model)
    var st = model.state
    $("problems").innerHTML = st && st.problems.length > 0
      ? "<ul class=\"problems\">" + st.problems.map(function (p) { return "<li>" + G.esc(p) + "</li>" }).join("") + "</ul>"
      : ""
    $("nodes-panel").hidden = !st || st.nodes.length === 0
    if (st && st.nodes.length > 0) $("nodes").innerHTML = G.nodeTable(st.nodes, st.done)
    if (st) {
      $("thresholds").innerHTML = G.thresholdTable(st.summary, st.done)
      $("labels").innerHTML = G.summaryTable(st.summary)
      $("status").innerHTML = G.statusTable(st.summary)
    }
    var cols = G.columns(model)
    charts.render(G.chartSpecs(model, cols), cols, model.meta.title)
    document.body.dataset.connection = conn
    document.body.dataset.points = String(cols.x.length)
  }

  $("labels-csv").addEventListener("click", function () {
    if (!model.state) return
    G.download(new Blob([G.csv(G.summaryHead, G.summaryRows(model.state.summary))], { type: "text/csv" }), G.slug(model.meta.title) + "-labels.csv")
  })

  /** This page as a report file: its own inline styles and scripts, the data it holds embedded
   * (so a live page can be kept after its server has gone). */
  var reportFile = function () {
    var data = {
      meta: model.meta,
      points: Array.from(model.points.values()).sort(function (a, b) { return a.seq - b.seq }),
      load: Object.fromEntries(model.load),
      state: model.state
    }
    var inline = function (sel, tag) {
      return Array.from(document.querySelectorAll(sel)).map(function (el) {
        return "<" + tag + ">" + el.textContent.replace(/<\/(script|style)/gi, "<\\/$1") + "</" + tag + ">"
      }).join("\n")
    }
    return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" +
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\">" +
      "<link rel=\"icon\" href=\"data:,\"><title>" + G.esc(model.meta.title) + "</title>" + inline("head style", "style") +
      "</head><body><div id=\"app\"></div><script id=\"grid-data\" type=\"application/json\">" +
      JSON.stringify(data).replace(/</g, "\\u003c") + "</script>" + inline("body script:not([type])", "script") + "</body></html>\n"
  }

  $("save-report").addEventListener("click", function () {
    if (!model.meta) return
    G.download(new Blob([reportFile()], { type: "text/html" }), G.slug(model.meta.title) + "-report.html")
  })

  var setConn = function (c) {
    if (conn === c) return
    conn = c
    document.body.dataset.connection = c
    var b = $("conn")
    if (b) { b.className = "badge " + c; b.textContent = c }
  }

  var live = function (cfg) {
    var retry = 1000
    // Says who it is, so a page cut off near the end is waited for (the server's drain).
    var pageId = Math.random().toString(36).slice(2, 12) || "page"
    var open = function () {
      var es = new EventSource(cfg.events + "?since=" + lastSeq + "&page=" + pageId)
      es.onmessage = function (ev) {
        retry = 1000
        setConn("live")
        apply(JSON.parse(ev.data))
      }
      es.addEventListener("end", function (ev) {
        es.close()
        apply(JSON.parse(ev.data))
        setConn("ended")
        schedule()
      })
      es.onerror = function () {
        if (conn === "ended") return
        es.close()
        setConn("reconnecting")
        setTimeout(open, retry)
        retry = Math.min(2000, retry * 2)
      }
    }
    open()
  }

  var embedded = $("grid-data")
  if (embedded) {
    conn = "report"
    apply(JSON.parse(embedded.textContent))
    // Drawn before the load event, not on the next frame: a page dumped or printed at load is whole.
    render()
  } else live(JSON.parse($("grid-live").textContent))

  // For tests and the curious: what the page holds and draws.
  window.gridDashboard = {
    connection: function () { return conn },
    lastSeq: function () { return lastSeq },
    total: function () { return model.state ? model.state.summary.total.count : 0 },
    points: function () { return model.points.size },
    pointsTotal: function () { var n = 0; model.points.forEach(function (p) { n += p.count }); return n },
    charts: function () { return charts.describe() }
  }
})(GridDash)
