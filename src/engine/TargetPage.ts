// `grid target`'s page for browser-level tests (`GET /browser`): a heading and text (a
// contentful paint for LCP), a search form, and a result element a script fills `delay` ms
// after the form is sent (default 200), as an app waiting on its API would. The server's
// answer waits `latency` ms (query parameter, or a `--route /browser=MS`), which a
// browser's TTFB must then show. The page asks for nothing else (its favicon is inline), so
// the target's count for /browser is exactly the page loads.
import type { IncomingMessage, ServerResponse } from "node:http"

const page = (delayMs: number) =>
  `<!doctype html>
<html><head><meta charset="utf-8"><title>grid target: browser page</title><link rel="icon" href="data:,">
<style>body{font-family:sans-serif;margin:2em}#results{margin-top:1em;font-size:1.4em}</style></head>
<body>
<h1>grid target</h1>
<p>A page for browser-level load tests: fill the form, send it, and the result appears ${delayMs} ms later.</p>
<form id="search"><input id="q" name="q" autocomplete="off">
<select id="kind"><option value="all">all</option><option value="docs">docs</option><option value="code">code</option></select>
<button id="go" type="submit">Search</button></form>
<div id="results" hidden></div>
<script>
document.getElementById("search").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = document.getElementById("q").value;
  const kind = document.getElementById("kind").value;
  setTimeout(() => {
    const r = document.getElementById("results");
    r.textContent = "found 3 " + kind + " results for " + q;
    r.hidden = false;
  }, ${delayMs});
});
</script>
</body></html>
`

const number = (params: URLSearchParams | undefined, name: string): number | undefined => {
  const v = params?.get(name)
  return v !== null && v !== undefined && /^\d{1,6}$/.test(v) ? Number(v) : undefined
}

/** Answers `GET /browser` after `latencyMs` (the query's `latency` wins). */
export const servePage = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams | undefined, latencyMs: number): void => {
  const html = Buffer.from(page(number(params, "delay") ?? 200))
  const latency = number(params, "latency") ?? latencyMs
  req.resume()
  req.on("end", () => {
    const reply = () => {
      if (res.destroyed) return
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": html.length, "cache-control": "no-store" })
      res.end(req.method === "HEAD" ? undefined : html)
    }
    if (latency > 0) setTimeout(reply, latency)
    else reply()
  })
}
