// The chat page: four static files and the browser build of eventsource-parser (the SSE parser the
// server uses too), read once at start (no build step, no static plugin).
import * as fs from "node:fs";
import * as path from "node:path";
import type { FastifyPluginAsync } from "fastify";

export const PUBLIC_DIR = path.join(__dirname, "..", "..", "public");

const JS = "text/javascript; charset=utf-8";

/** The ES module build that eventsource-parser's package.json exports for `import` (it imports nothing). */
export function eventsourceParserModule(): string {
  const packageJson = require.resolve("eventsource-parser/package.json");
  const manifest = JSON.parse(fs.readFileSync(packageJson, "utf8")) as { exports: { ".": { import: string } } };
  const text = fs.readFileSync(path.join(path.dirname(packageJson), manifest.exports["."].import), "utf8");
  // Its source map is not served.
  return text.replace(/^\/\/# sourceMappingURL=.*$/m, "");
}

export const pageRoutes: FastifyPluginAsync = async (app) => {
  const files: Record<string, { body: Buffer | string; type: string }> = {
    "/": { body: fs.readFileSync(path.join(PUBLIC_DIR, "index.html")), type: "text/html; charset=utf-8" },
    "/app.js": { body: fs.readFileSync(path.join(PUBLIC_DIR, "app.js")), type: JS },
    "/history.js": { body: fs.readFileSync(path.join(PUBLIC_DIR, "history.js")), type: JS },
    "/style.css": { body: fs.readFileSync(path.join(PUBLIC_DIR, "style.css")), type: "text/css; charset=utf-8" },
    "/vendor/eventsource-parser.js": { body: eventsourceParserModule(), type: JS },
  };
  for (const [url, { body, type }] of Object.entries(files)) {
    app.get(url, async (_request, reply) => {
      reply.header("content-type", type).header("cache-control", "no-cache");
      return body;
    });
  }
};
