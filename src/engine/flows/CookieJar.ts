// One virtual user's cookies: tough-cookie's jar (RFC 6265 domain, path, expiry and Secure
// rules; HttpOnly does not matter to a client that sends). Created on the first Set-Cookie
// a user receives, so a target that sets none costs nothing but a header-name scan; until
// then `cookieHeader` answers "" without a look-up.
import { CookieJar } from "tough-cookie"
import type { ResponseView } from "./Response.ts"

export class UserCookies {
  private jar: CookieJar | undefined = undefined

  /** Stores every Set-Cookie of a response to `url`; malformed ones are ignored, as browsers do. */
  store(url: string, response: ResponseView): void {
    const lines = response.headerAll("set-cookie")
    if (lines.length === 0) return
    if (this.jar === undefined) this.jar = new CookieJar(undefined, { rejectPublicSuffixes: false, looseMode: true })
    for (const line of lines) this.jar.setCookieSync(line, url, { ignoreError: true })
  }

  /** The Cookie header value for a request to `url` ("" for none). */
  cookieHeader(url: string): string {
    return this.jar === undefined ? "" : this.jar.getCookieStringSync(url)
  }

  /** Whether a response's header list has a Set-Cookie: the cheap test before building a view. */
  static setsCookie(headers: ReadonlyArray<string>): boolean {
    for (let i = 0; i < headers.length; i += 2) {
      const h = headers[i]!
      // Length and first letter first: `Connection` is 10 letters too, and comes every response.
      if (h.length === 10 && (h.charCodeAt(0) | 0x20) === 0x73 && h.toLowerCase() === "set-cookie") return true
    }
    return false
  }
}
