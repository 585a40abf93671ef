// Samples of a test's setup and teardown (the built-in engine's `setup:` / `teardown:`,
// labelled `[setup] name` and `[teardown] name`) are reported in rows of their own and kept
// out of label `*`: the load's totals, rates and thresholds measure the load alone.

/** Whether a label's samples count in the total (label `*`). */
export const countsInTotal = (label: string): boolean =>
  label.charCodeAt(0) !== 91 /* [ */ || !(label.startsWith("[setup] ") || label.startsWith("[teardown] "))
