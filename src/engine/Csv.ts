// A small RFC 4180 CSV reader for scenario data files (header row, quoted fields with
// doubled quotes, CRLF or LF). Data files are read once at load time: no streaming needed.

/** Parses CSV text into rows of fields. A trailing newline does not make an empty row. */
export const parseCsv = (text: string): Array<Array<string>> => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = []
  let field = ""
  let quoted = false
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i]!
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        quoted = false
      } else field += c
      i++
      continue
    }
    if (c === '"' && field === "") quoted = true
    else if (c === ",") {
      row.push(field)
      field = ""
    } else if (c === "\n" || c === "\r") {
      row.push(field)
      field = ""
      rows.push(row)
      row = []
      if (c === "\r" && text[i + 1] === "\n") i++
    } else field += c
    i++
  }
  if (field !== "" || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""))
}

/** Header row + records as column -> value; a record with a wrong field count is a problem. */
export const csvRecords = (
  text: string
): { readonly columns: ReadonlyArray<string>; readonly records: Array<Record<string, string>>; readonly problems: Array<string> } => {
  const rows = parseCsv(text)
  const problems: Array<string> = []
  if (rows.length === 0) return { columns: [], records: [], problems: ["is empty (a header row is required)"] }
  const columns = rows[0]!.map((c) => c.trim())
  const records: Array<Record<string, string>> = []
  for (let r = 1; r < rows.length; r++) {
    const fields = rows[r]!
    if (fields.length !== columns.length) {
      problems.push(`line ${r + 1}: ${fields.length} fields, header has ${columns.length}`)
      continue
    }
    const rec: Record<string, string> = {}
    columns.forEach((c, k) => (rec[c] = fields[k]!))
    records.push(rec)
  }
  if (records.length === 0 && problems.length === 0) problems.push("has a header but no rows")
  return { columns, records, problems }
}
