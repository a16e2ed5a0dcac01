# One image for every app process of the topology (docker-compose.yml picks the npm script):
# the gateway, a data product subgraph, or the one-shot seed. TypeScript runs through tsx, a
# runtime dependency, so there is no build step and no dev dependencies in the image.
FROM node:20-bookworm-slim

WORKDIR /app

# npm runs every process: keep it from checking the registry for updates or printing appeals.
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
ENV NPM_CONFIG_FUND=false
# Every package.json script starts with `exec`: npm's `sh -c` (dash) would otherwise stay between
# npm and node and swallow SIGTERM, and a stopping gateway could not drain.

# The lockfile alone decides the dependency layer, so source edits reuse the cached install.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY . .

ENV NODE_ENV=production

# The files stay owned by root: the app never writes under /app (tsx caches in /tmp, npm logs in $HOME).
USER node

EXPOSE 4000

CMD ["npm", "run", "gateway"]
