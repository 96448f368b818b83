// The chat page: three static files, read once at start (no build step, no static plugin).
import * as fs from "node:fs";
import * as path from "node:path";
import type { FastifyPluginAsync } from "fastify";

export const PUBLIC_DIR = path.join(__dirname, "..", "..", "public");

const FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

export const pageRoutes: FastifyPluginAsync = async (app) => {
  for (const [url, { file, type }] of Object.entries(FILES)) {
    const body = fs.readFileSync(path.join(PUBLIC_DIR, file));
    app.get(url, async (_request, reply) => {
      reply.header("content-type", type).header("cache-control", "no-cache");
      return body;
    });
  }
};
