// grid dashboard, part 2 of 4: the charts, drawn by uPlot (inlined before this file). Which
// charts there are and their series come from the points (chartSpecs); each chart keeps its
// uPlot instance, gets new data in place (setData), follows its box's width, and is rebuilt
// when its series change or the colour scheme flips. Every chart downloads as PNG and CSV.
"use strict"
;(function (G) {
  var HEIGHT = 240

  /** Colours and lines, from the stylesheet's variables (light and dark schemes differ). */
  var theme = function () {
    var cs = getComputedStyle(document.documentElement)
    var v = function (n) { return cs.getPropertyValue(n).trim() }
    var palette = []
    for (var i = 1; i <= 10; i++) palette.push(v("--c" + i))
    return { fg: v("--fg"), muted: v("--muted"), grid: v("--grid"), bg: v("--bg"), palette: palette, font: "12px " + v("--font") }
  }

  var rateSeries = function (name, values, partial, color) {
    var s = G.splitPartial(values, partial)
    var out = [{ label: name, values: s.full, color: color }]
    if (s.any) out.push({ label: name + " (partial window)", values: s.part, color: color, dash: [6, 4] })
    return out
  }

  /** The charts of the current points. */
  G.chartSpecs = function (model, cols) {
    var specs = []
    var p = function (i) { return "--c" + i }
    specs.push({ id: "chart-rps", title: "Requests per second", unit: "req/s", series: rateSeries("requests/s", cols.rate(function (q) { return q.count }), cols.partial, p(1)) })
    specs.push({ id: "chart-errors", title: "Errors per second", unit: "errors/s", series: rateSeries("errors/s", cols.rate(function (q) { return q.errors }), cols.partial, "--bad") })
    specs.push({
      id: "chart-latency",
      title: "Latency percentiles (merged histograms per window)",
      unit: "ms",
      series: [
        { label: "p99", values: cols.pick(function (q) { return q.latencyMs.p99 }), color: "--p99", width: 2 },
        { label: "p95", values: cols.pick(function (q) { return q.latencyMs.p95 }), color: "--p95", width: 2 },
        { label: "p90", values: cols.pick(function (q) { return q.latencyMs.p90 }), color: "--p90", width: 2, dash: [5, 3] },
        { label: "p50", values: cols.pick(function (q) { return q.latencyMs.p50 }), color: "--p50", width: 2 }
      ]
    })
    if (model.meta.load && model.load.size > 0) {
      var users = model.meta.load === "users"
      specs.push({
        id: "chart-load",
        title: (users ? "Users" : "Arrivals per second") + (model.meta.kind === "launch" ? ", planned, of the nodes running" : ""),
        unit: users ? "users" : "arrivals/s",
        series: [{ label: users ? "users" : "arrivals/s", values: cols.pick(function (q) { var l = model.load.get(q.seq); return l === undefined ? null : l }), color: p(3), fill: true }]
      })
    }
    if (cols.labels.length > 0) {
      var per = function (f) {
        return cols.labels.map(function (l, i) {
          return { label: l, values: cols.pts.map(function (q) { var r = q.labels[l]; return r === undefined ? 0 : f(r, q) }), color: p((i % 10) + 1) }
        })
      }
      specs.push({ id: "chart-label-rps", title: "Requests per second by label", unit: "req/s", series: per(function (r, q) { return r.count / Math.max(0.001, q.durationMs / 1000) }) })
      specs.push({ id: "chart-label-p95", title: "p95 latency by label", unit: "ms", series: per(function (r) { return r.p95 }) })
    }
    return specs
  }

  var optionsOf = function (spec, width, t) {
    var color = function (c) { return c.charAt(0) === "-" ? getComputedStyle(document.documentElement).getPropertyValue(c).trim() : c }
    var fmt = spec.unit === "ms" ? G.ms : G.num
    return {
      width: width,
      height: HEIGHT,
      scales: { x: { time: false }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1] } } },
      axes: [
        // Ticks on whole seconds (then minutes): a window is a second, half seconds mean nothing.
        { stroke: t.muted, font: t.font, incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400], space: 46, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1 }, values: function (u, vs) { return vs.map(G.clock) } },
        { stroke: t.muted, font: t.font, size: 56, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1 }, values: function (u, vs) { return vs.map(function (v) { return v === 0 ? "0" : fmt(v) }) } }
      ],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      series: [{ label: "time", value: function (u, v) { return v == null ? "-" : G.clock(v) } }].concat(spec.series.map(function (s) {
        var c = color(s.color)
        return {
          label: s.label,
          stroke: c,
          width: s.width || 2,
          dash: s.dash,
          fill: s.fill ? c + "22" : undefined,
          spanGaps: false,
          points: { show: spec.pointsShown },
          value: function (u, v) { return v == null ? "-" : fmt(v) + " " + spec.unit }
        }
      }))
    }
  }

  var keyOf = function (spec) { return spec.series.map(function (s) { return s.label }).join("\u0001") }

  /** The chart boxes of one container, kept across renders. */
  G.Charts = function (container) {
    this.container = container
    this.charts = new Map()
    this.theme = theme()
    var self = this
    this.observer = new ResizeObserver(function (entries) {
      entries.forEach(function (e) {
        var c = self.charts.get(e.target.dataset.chart)
        var w = Math.floor(e.contentRect.width)
        if (c && w > 0 && Math.abs(c.u.width - w) > 1) c.u.setSize({ width: w, height: HEIGHT })
      })
    })
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () { self.rethemed() })
  }

  G.Charts.prototype.rethemed = function () {
    this.theme = theme()
    this.charts.forEach(function (c) { c.u.destroy(); c.u = null; c.key = "" })
    if (this.last) this.render(this.last.specs, this.last.cols, this.last.name)
  }

  G.Charts.prototype.render = function (specs, cols, name) {
    this.last = { specs: specs, cols: cols, name: name }
    var self = this
    specs.forEach(function (spec) {
      spec.pointsShown = cols.x.length < 3
      var data = [cols.x].concat(spec.series.map(function (s) { return s.values }))
      var c = self.charts.get(spec.id)
      if (c === undefined) c = self.box(spec, name)
      c.spec = spec
      c.cols = cols
      var key = keyOf(spec) + (spec.pointsShown ? "+" : "")
      if (c.u === null || c.key !== key) {
        if (c.u) c.u.destroy()
        var w = Math.max(280, Math.floor(c.plot.clientWidth || self.container.clientWidth || 600))
        c.u = new uPlot(optionsOf(spec, w, self.theme), data, c.plot)
        c.key = key
      } else c.u.setData(data)
      c.el.dataset.points = String(cols.x.length)
      c.el.dataset.series = String(spec.series.length)
    })
  }

  G.Charts.prototype.box = function (spec, name) {
    var el = document.createElement("section")
    el.className = "chart"
    el.id = spec.id
    el.innerHTML = "<header><h3>" + G.esc(spec.title) + " <small>(" + G.esc(spec.unit) + ")</small></h3>" +
      "<span class=\"tools\"><button type=\"button\" data-act=\"png\" title=\"Download the chart as PNG\">PNG</button>" +
      "<button type=\"button\" data-act=\"csv\" title=\"Download its data as CSV\">CSV</button></span></header><div class=\"plot\"></div>"
    this.container.appendChild(el)
    var c = { el: el, plot: el.querySelector(".plot"), u: null, key: "", spec: spec, cols: null }
    c.plot.dataset.chart = spec.id
    this.observer.observe(c.plot)
    var self = this
    el.querySelector("[data-act=png]").addEventListener("click", function () { self.png(c, self.last.name) })
    el.querySelector("[data-act=csv]").addEventListener("click", function () { self.csv(c, self.last.name) })
    this.charts.set(spec.id, c)
    return c
  }

  /** The chart as drawn, on the page's background, with its title and legend above it. */
  G.Charts.prototype.png = function (c, name) {
    var src = c.u.ctx.canvas
    var dpr = src.width / c.u.width
    var t = this.theme
    var head = Math.round(44 * dpr)
    var out = document.createElement("canvas")
    out.width = src.width
    out.height = src.height + head
    var ctx = out.getContext("2d")
    ctx.fillStyle = t.bg || "#fff"
    ctx.fillRect(0, 0, out.width, out.height)
    ctx.fillStyle = t.fg
    ctx.font = "bold " + Math.round(14 * dpr) + "px " + (t.font.split("px ")[1] || "sans-serif")
    ctx.fillText(c.spec.title + " (" + c.spec.unit + ")", 8 * dpr, 18 * dpr)
    ctx.font = Math.round(12 * dpr) + "px sans-serif"
    var x = 8 * dpr
    c.u.series.slice(1).forEach(function (s) {
      ctx.fillStyle = typeof s.stroke === "function" ? s.stroke(c.u) : s.stroke
      ctx.fillRect(x, 28 * dpr, 12 * dpr, 4 * dpr)
      ctx.fillStyle = t.fg
      ctx.fillText(s.label, x + 16 * dpr, 34 * dpr)
      x += ctx.measureText(s.label).width + 32 * dpr
    })
    ctx.drawImage(src, 0, head)
    out.toBlob(function (b) { G.download(b, G.slug(name) + "-" + c.spec.id + ".png") }, "image/png")
  }

  G.Charts.prototype.csv = function (c, name) {
    var cols = c.cols
    var header = ["seconds", "seq", "window_start", "window_ms", "partial"].concat(c.spec.series.map(function (s) { return s.label + " (" + c.spec.unit + ")" }))
    var rows = cols.pts.map(function (p, i) {
      return [cols.x[i], p.seq, new Date(p.start).toISOString(), p.durationMs, cols.partial[i] ? "yes" : "no"].concat(c.spec.series.map(function (s) {
        var v = s.values[i]
        return v == null ? "" : +v.toFixed(3)
      }))
    })
    G.download(new Blob([G.csv(header, rows)], { type: "text/csv" }), G.slug(name) + "-" + c.spec.id + ".csv")
  }

  /** What a test reads: each chart's id, points and series. */
  G.Charts.prototype.describe = function () {
    return Array.from(this.charts.values()).map(function (c) {
      return { id: c.spec.id, points: c.u ? c.u.data[0].length : 0, series: c.spec.series.length, width: c.u ? c.u.width : 0 }
    })
  }
})(GridDash)
