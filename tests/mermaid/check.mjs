// Parse each file given with the real Mermaid parser (in a jsdom window: Mermaid's parse
// needs a DOM for its sanitizer) and Mermaid's default limits: maxEdges (checked by the
// parser) and maxTextSize (checked here, as mermaid.render does). Prints `ok FILE TYPE` or
// `error FILE: MESSAGE` per file; exits 1 when any file fails.
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });
const maxTextSize = mermaid.mermaidAPI.getConfig().maxTextSize;

let failed = false;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  try {
    if (text.length > maxTextSize) {
      throw new Error(`${text.length} characters, more than maxTextSize ${maxTextSize}`);
    }
    const parsed = await mermaid.parse(text);
    console.log(`ok ${file} ${parsed.diagramType}`);
  } catch (e) {
    failed = true;
    console.log(`error ${file}: ${String(e.message || e).replaceAll('\n', ' ')}`);
  }
}
process.exit(failed ? 1 : 0);
