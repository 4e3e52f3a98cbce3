# syntax=docker/dockerfile:1
# One image for `ladder operator` and `ladder worker`.
#   docker build -t ghcr.io/ladder-dev/ladder:0.1.0 .
# Node's version matches the one the project pins (package.json devDependency "node").
ARG NODE_VERSION=24.21.0

# --- build: compile TypeScript with the dev dependencies ---------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only (no typescript, jest, or the `node` npm package) ---
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime: Node plus the compiled CLI, nothing to build with ---------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
# npm, npx and corepack are build tools: the runtime never installs anything.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
 && groupadd --system --gid 10001 ladder \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ladder \
 && printf '#!/bin/sh\nexec node /app/dist/cli/main.js "$@"\n' > /usr/local/bin/ladder \
 && chmod 0755 /usr/local/bin/ladder
WORKDIR /app
COPY --from=deps /app/package.json /app/package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Numeric user so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# The operator renders worker pods with command ["ladder", "worker", ...]; the entrypoint
# serves `docker run IMAGE operator ...`.
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
LABEL org.opencontainers.image.title="ladder" \
      org.opencontainers.image.description="Reliable asynchronous callbacks on RabbitMQ, run by a Kubernetes operator" \
      org.opencontainers.image.source="https://github.com/ladder-dev/ladder" \
      org.opencontainers.image.licenses="Apache-2.0"
