// Page metrics of a navigation, read in the page once a `goto` step's load event has fired:
// TTFB, DOMContentLoaded and load from the Navigation Timing entry (ms from navigation
// start), LCP and CLS from PerformanceObservers an init script starts before any of the
// page's own scripts. It is a lab measurement at load: an element that becomes the largest
// later, or a shift after load, is not counted. CLS is a score, not a time; its samples
// carry the score in `latencyMs`, so "home:cls p75 < 0.1" reads as written.

/** Added to every context: observers buffered from navigation start. */
export const vitalsInitScript = `(() => {
  const v = { lcp: -1, cls: 0 };
  Object.defineProperty(window, "__gridVitals", { value: v, enumerable: false });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) v.lcp = e.renderTime || e.loadTime || e.startTime;
    }).observe({ type: "largest-contentful-paint", buffered: true });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) v.cls += e.value;
    }).observe({ type: "layout-shift", buffered: true });
  } catch {}
})()`

export interface PageVitals {
  readonly ttfb: number
  readonly dcl: number
  readonly load: number
  /** -1 when the page painted no contentful element. */
  readonly lcp: number
  readonly cls: number
}

/**
 * Evaluated in the page (a string: this file is not compiled against the DOM): when no LCP
 * entry has arrived yet (its observer's callback comes after the paint that follows load,
 * late on a busy machine) waits two frames, then for the entry up to 1.5 s, then reads.
 */
export const readVitalsScript = `(() => {
  const read = () => {
    const nav = performance.getEntriesByType("navigation")[0];
    const v = window.__gridVitals || { lcp: -1, cls: 0 };
    return {
      ttfb: nav ? nav.responseStart - nav.startTime : -1,
      dcl: nav ? nav.domContentLoadedEventStart - nav.startTime : -1,
      load: nav ? (nav.loadEventEnd || nav.loadEventStart) - nav.startTime : -1,
      lcp: v.lcp,
      cls: v.cls
    };
  };
  if (window.__gridVitals && window.__gridVitals.lcp >= 0) return read();
  return new Promise((resolve) => {
    const started = performance.now();
    const poll = () => {
      if (window.__gridVitals && window.__gridVitals.lcp >= 0 || performance.now() - started > 1500) resolve(read());
      else setTimeout(poll, 20);
    };
    requestAnimationFrame(() => requestAnimationFrame(poll));
    setTimeout(() => resolve(read()), 2000);
  });
})()`

/** The metrics as `[label suffix, value]`, leaving out what the page could not measure. */
export const vitalEntries = (v: PageVitals): Array<[string, number]> =>
  ([["ttfb", v.ttfb], ["dcl", v.dcl], ["load", v.load], ["lcp", v.lcp], ["cls", v.cls]] as Array<[string, number]>)
    .filter(([, value]) => Number.isFinite(value) && value >= 0)
