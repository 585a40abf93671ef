// What the process exits with when it ends by SIGINT/SIGTERM (the runtime interrupts the
// main fiber). 130 by default; `grid daemon` sets 0, since a signal is its normal stop.
export const onInterrupt = { exitCode: 130 }
