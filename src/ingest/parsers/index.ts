// One parser per result format, chosen by the tool adapter's (or the user's) format name.
import type { SampleSink } from "../Sample.ts"
import { artilleryReport } from "./Artillery.ts"
import { jmeterCsv } from "./JMeterCsv.ts"
import { jmeterXml } from "./JMeterXml.ts"
import { k6Json } from "./K6.ts"
import { locust, locustHook } from "./Locust.ts"
import type { ResultFormat, ResultParser } from "./Parser.ts"

export const parserFor = (format: ResultFormat, sink: SampleSink): ResultParser => {
  switch (format) {
    case "jmeter":
      return jmeterCsv(sink)
    case "jmeter-xml":
      return jmeterXml(sink)
    case "locust":
      return locust(sink)
    case "locust-hook":
      return locustHook(sink)
    case "k6":
      return k6Json(sink)
    case "artillery":
      return artilleryReport(sink)
  }
}
