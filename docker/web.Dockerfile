# The web pod: MetaHuman OS (upstream, at the pin in scripts/metahuman-os/pin.env, built here, unmodified) behind our
# front door, with the gateway to the serverless endpoint (src/app). The pod's command is src/app/server/pod.ts.
# Build from the repo root:
#   docker build -f docker/web.Dockerfile -t <registry>/metahuman-web:<tag> .
# MetaHuman OS's source comes from GitHub at the pinned commit. Where GitHub is not reachable, hand the build a git
# archive (or a checkout) of that commit; scripts/metahuman-os/source.sh checks its commit either way:
#   docker build --build-context metahuman-os-source=DIR --build-arg METAHUMAN_OS_SOURCE=/metahuman-os-source/ARCHIVE ...
# BASE is node:22-slim; scripts/build-web-image.sh builds this file with buildah over a local base instead (no
# registry there). The image holds src/app and what it imports (src/common, src/runpod's job API client), nothing of
# src/infra.
ARG BASE=node:22-slim

# MetaHuman OS's source when the build is given it (`--build-context metahuman-os-source=DIR` replaces this stage);
# otherwise this holds nothing that is used and the source comes from GitHub.
FROM scratch AS metahuman-os-source
COPY scripts/metahuman-os/pin.env /pin.env

# MetaHuman OS at the pin, built with its own pnpm (scripts/metahuman-os/build.sh): /opt/metahuman-os.
FROM ${BASE} AS metahuman-os
# git fetches the source and reads an archive's commit (source.sh); ca-certificates for GitHub over https.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY scripts/metahuman-os/ scripts/metahuman-os/
ARG METAHUMAN_OS_SOURCE=
RUN --mount=type=bind,from=metahuman-os-source,target=/metahuman-os-source \
    bash scripts/metahuman-os/source.sh /opt/metahuman-os \
 && bash scripts/metahuman-os/build.sh /opt/metahuman-os \
 && rm -rf /tmp/pnpm /root/.npm /root/.cache /root/.local/share/pnpm \
 && chown -R root:root /opt/metahuman-os \
 && chmod -R go-w /opt/metahuman-os

FROM ${BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Only the web pod's runtime packages, at the versions the lock file pins: the Pulumi SDK
# and the test tools stay out of the image. tsx runs the TypeScript sources as they are tested.
RUN node -e ' \
  const fs = require("fs"); \
  const lock = require("./package-lock.json"); \
  const keep = ["fastify", "@fastify/cookie", "@fastify/helmet", "@fastify/http-proxy", "@fastify/rate-limit", "fastify-plugin", "zod", "dotenv", "prom-client", "eventsource-parser", "proper-lockfile", "tsx"]; \
  const dependencies = Object.fromEntries(keep.map((n) => [n, lock.packages["node_modules/" + n].version])); \
  const pkg = require("./package.json"); \
  fs.writeFileSync("package.json", JSON.stringify({ name: pkg.name, version: pkg.version, private: true, dependencies }, null, 2)); \
  ' \
 && npm install --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${BASE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4321 \
    METAHUMAN_OS_DIR=/opt/metahuman-os
# The entrypoint drops to the `node` user (1000:1000) with util-linux's setpriv; fail the
# build here, not at the first start, if the base image ever stops shipping it.
RUN command -v setpriv >/dev/null \
 || (apt-get update && apt-get install -y --no-install-recommends util-linux && rm -rf /var/lib/apt/lists/*) \
 && command -v setpriv >/dev/null \
 && [ "$(id -u node):$(id -g node)" = "1000:1000" ]
# MetaHuman OS first (the largest layer, rebuilt only when the pin or its build scripts change): root-owned and
# read-only to the server, which runs as node; its etc/ and brain/ seed the volume, its data goes to METAHUMAN_ROOT.
COPY --from=metahuman-os /opt/metahuman-os /opt/metahuman-os
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY tsconfig.json ./
COPY src/common/ src/common/
COPY src/app/ src/app/
COPY src/runpod/serverless.ts src/runpod/job-api-errors.ts src/runpod/worker-contract.ts src/runpod/billing.ts src/runpod/
COPY docker/web-entrypoint.sh /usr/local/bin/web-entrypoint.sh
# The image starts as root only so that web-entrypoint.sh can create METAHUMAN_ROOT on a
# fresh, root-owned network volume; it then runs CMD as node (uid 1000), never as root.
# The image's files stay root-owned and read-only to the server; data goes to the volume.
USER root
EXPOSE 4321
HEALTHCHECK --interval=30s --timeout=6s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4321) + '/api/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/bin/sh", "/usr/local/bin/web-entrypoint.sh"]
CMD ["node", "--import", "tsx", "src/app/server/pod.ts"]
