# MetaHuman OS web pod: the Fastify server, the chat page and the LLM adapter.
# Build from the repo root: docker build -f docker/web.Dockerfile -t <registry>/metahuman-web:<tag> .
# The image holds src/app and what it imports (src/common, src/runpod's job API client), nothing of src/infra.

FROM node:22-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Only the web pod's runtime packages, at the versions the lock file pins: the Pulumi SDK
# and the test tools stay out of the image. tsx runs the TypeScript sources as they are tested.
RUN node -e ' \
  const fs = require("fs"); \
  const lock = require("./package-lock.json"); \
  const keep = ["fastify", "@fastify/cookie", "@fastify/http-proxy", "@fastify/helmet", "@fastify/rate-limit", "fastify-plugin", "zod", "dotenv", "prom-client", "eventsource-parser", "proper-lockfile", "tsx"]; \
  const dependencies = Object.fromEntries(keep.map((n) => [n, lock.packages["node_modules/" + n].version])); \
  const pkg = require("./package.json"); \
  fs.writeFileSync("package.json", JSON.stringify({ name: pkg.name, version: pkg.version, private: true, dependencies }, null, 2)); \
  ' \
 && npm install --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:22-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4321
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY tsconfig.json ./
COPY src/common/ src/common/
COPY src/app/ src/app/
COPY src/runpod/serverless.ts src/runpod/job-api-errors.ts src/runpod/worker-contract.ts src/runpod/billing.ts src/runpod/
COPY docker/web-entrypoint.sh /usr/local/bin/web-entrypoint.sh
# The entrypoint drops to the `node` user (1000:1000) with util-linux's setpriv; fail the
# build here, not at the first start, if the base image ever stops shipping it.
RUN command -v setpriv >/dev/null \
 || (apt-get update && apt-get install -y --no-install-recommends util-linux && rm -rf /var/lib/apt/lists/*) \
 && command -v setpriv >/dev/null \
 && [ "$(id -u node):$(id -g node)" = "1000:1000" ]
# The image starts as root only so that web-entrypoint.sh can create METAHUMAN_ROOT on a
# fresh, root-owned network volume; it then runs CMD as node (uid 1000), never as root.
# The image's files stay root-owned and read-only to the server; data goes to the volume.
USER root
EXPOSE 4321
HEALTHCHECK --interval=30s --timeout=6s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4321) + '/api/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/bin/sh", "/usr/local/bin/web-entrypoint.sh"]
CMD ["node", "--import", "tsx", "src/app/server/server.ts"]
