// Vitest configuration. Guards against running on a Node older than Effect 4 needs:
// calling ./node_modules/.bin/vitest directly runs on the machine's node (maybe 20).
import { defineConfig } from "vitest/config"

const [major, minor] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  throw new Error(
    `grid needs Node >= 22.19 (found ${process.versions.node}); run tests with "npm test", which uses node_modules/.bin/node`
  )
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/support/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites start their own nats-server, processes and containers; two cores here.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ["default"]
  }
})
