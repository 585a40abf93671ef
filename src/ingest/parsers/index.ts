// One parser per result format, chosen by the tool adapter's (or the user's) format name.
import type { SampleSink } from "../Sample.ts"
import { jmeterCsv } from "./JMeterCsv.ts"
import type { ResultFormat, ResultParser } from "./Parser.ts"

export const parserFor = (format: ResultFormat, sink: SampleSink): ResultParser => {
  switch (format) {
    case "jmeter":
      return jmeterCsv(sink)
    default:
      throw new Error(`no parser for ${format} yet`)
  }
}
