#!/usr/bin/env node
// `grid` entry point for `npx grid` and npm's bin link: runs the TypeScript CLI directly
// (Node >= 22.19 strips types; npm scripts put node_modules/.bin/node, Node 24, first).
import "../src/cli/main.ts"
