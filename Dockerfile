# syntax=docker/dockerfile:1
# One image for every app process of the topology; docker-compose.yml picks the command:
# `node dist/gateway/main.js` (the default), `node dist/subgraphs/main.js --product <name>`,
# `node dist/scripts/seed.js`, and the CLIs under dist/scripts/. Compiled JavaScript run by plain
# node: no TypeScript loader, no dev dependency and no npm process at run time.
# The build context is an allow-list (.dockerignore): no tests, bench, docs, .git or secrets.
# test/docker-compose.test.ts checks this file, and test/compiled-build.test.ts assembles the
# runtime stage's files from it and serves a query from them.

# Node.js 26, the newest LTS line; CI runs the whole suite on it (.ci/run).
ARG NODE_IMAGE=node:26-bookworm-slim

# --- build: every dependency, then type-check and compile to dist/ ---------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# The lockfile and the patches its postinstall applies alone decide this layer: source edits reuse it.
COPY package.json package-lock.json ./
COPY patches/ ./patches/
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY lib/ ./lib/
COPY gateway/ ./gateway/
COPY subgraphs/ ./subgraphs/
COPY scripts/ ./scripts/
RUN npm run build

# --- deps: production dependencies only, graphql-shield patched by the same postinstall -----------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
COPY patches/ ./patches/
RUN npm ci --omit=dev

# --- runtime: production dependencies, the compiled code, and the files it reads ------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# Stack traces name the TypeScript sources (dist/ carries source maps); only read when an error's
# stack is, so requests that raise nothing pay nothing.
ENV NODE_ENV=production NODE_OPTIONS=--enable-source-maps
# package.json: "type": "module" for dist/, and the package root the code finds its files from.
COPY package.json ./
COPY --from=deps /app/node_modules/ ./node_modules/
COPY --from=build /app/dist/ ./dist/
# What the code reads besides itself (lib/package-root.ts; SUPERGRAPH and the policy files from
# the working directory, /app): the SDL, the policies, each product's descriptor and migrations, the pages' assets.
COPY schema/*.graphql ./schema/
COPY schema/rest/*.yaml ./schema/rest/
COPY policies/*.yaml ./policies/
COPY subgraphs/customer/descriptor.yaml ./subgraphs/customer/
COPY subgraphs/finance/descriptor.yaml ./subgraphs/finance/
COPY subgraphs/product/descriptor.yaml ./subgraphs/product/
COPY subgraphs/customer/migrations/*.sql ./subgraphs/customer/migrations/
COPY subgraphs/finance/migrations/*.sql ./subgraphs/finance/migrations/
COPY subgraphs/product/migrations/*.sql ./subgraphs/product/migrations/
COPY gateway/sandbox/*.js gateway/sandbox/*.css ./gateway/sandbox/
COPY gateway/usage-page/*.html gateway/usage-page/*.js gateway/usage-page/*.css ./gateway/usage-page/
COPY gateway/sign-in/*.js gateway/sign-in/*.css ./gateway/sign-in/

# The files stay owned by root, read-only to the app: nothing under /app is written at run time.
USER node

EXPOSE 4000

# Liveness of the default process, the gateway (PORT, default 4000): a restart cannot mend a data
# product that is down, so readiness (/readyz) is left to what routes traffic (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node itself is PID 1: the gateway and the subgraphs stop on SIGTERM (drain, then exit 0);
# docker-compose.yml adds an init (`init: true`) that also reaps.
CMD ["node", "dist/gateway/main.js"]
