// Runs in every test file (vitest setupFiles): its afterAll is registered first, so it runs
// last, after the file's own hooks have stopped its daemons.
import { afterAll } from "vitest"
import { removeTempWorkRoots } from "./memoryNode.ts"

afterAll(() => removeTempWorkRoots())
