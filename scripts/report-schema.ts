// `node scripts/report-schema.ts`: writes docs/report.schema.json from the report document's
// Schema (src/report/Document.ts). test/report-document.test.ts fails while the file is stale.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { jsonSchemaText } from "../src/report/Document.ts"

writeFileSync(join(import.meta.dirname, "..", "docs", "report.schema.json"), jsonSchemaText())
