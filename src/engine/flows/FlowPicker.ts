// Chooses the flow of each iteration (closed model) or arrival (open model) by weight, with
// smooth weighted round-robin (nginx's upstream algorithm): the run's mix matches the weights
// exactly (within one pick at any moment, 3:1 is A A B A ...) rather than drifting with a
// random draw, so short runs measure the mix they were given. Shared by all users of a run.

export const flowPicker = <A>(flows: ReadonlyArray<{ readonly weight: number; readonly value: A }>): () => A => {
  if (flows.length === 1) {
    const only = flows[0]!.value
    return () => only
  }
  const total = flows.reduce((s, f) => s + f.weight, 0)
  const current = flows.map(() => 0)
  return () => {
    let best = 0
    for (let i = 0; i < flows.length; i++) {
      current[i]! += flows[i]!.weight
      if (current[i]! > current[best]!) best = i
    }
    current[best]! -= total
    return flows[best]!.value
  }
}
