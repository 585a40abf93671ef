// The part of a HAR 1.2 file (a browser's "Save all as HAR", Playwright's `recordHar`) that
// `grid convert` reads, as a Schema: every entry's request and response; unknown fields (and
// the many optional ones browsers add) are ignored. Bounds keep a huge or hostile file from
// costing more than it should.
import { Schema } from "effect"

/** Files larger than this are refused before parsing. */
export const MAX_HAR_BYTES = 200 * 1024 * 1024
/** Entries read at most (a long recording is cut with a note, not refused). */
export const MAX_ENTRIES = 5000

const NameValue = Schema.Struct({ name: Schema.String, value: Schema.String })

export const HarEntry = Schema.Struct({
  startedDateTime: Schema.String,
  /** Total time of the entry, ms (-1 or absent when unknown). */
  time: Schema.optional(Schema.Number),
  /** Chromium's resource type (document, script, stylesheet, image, font, xhr, fetch...). */
  _resourceType: Schema.optional(Schema.String),
  request: Schema.Struct({
    method: Schema.String,
    url: Schema.String,
    headers: Schema.Array(NameValue),
    postData: Schema.optional(Schema.Struct({ mimeType: Schema.optional(Schema.String), text: Schema.optional(Schema.String) }))
  }),
  response: Schema.Struct({
    status: Schema.Number,
    headers: Schema.Array(NameValue),
    content: Schema.optional(Schema.Struct({
      mimeType: Schema.optional(Schema.String),
      text: Schema.optional(Schema.String),
      encoding: Schema.optional(Schema.String)
    }))
  })
})
export type HarEntry = typeof HarEntry.Type

export const HarFile = Schema.Struct({
  log: Schema.Struct({ entries: Schema.Array(HarEntry) })
})
export type HarFile = typeof HarFile.Type
