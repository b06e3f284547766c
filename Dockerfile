# syntax=docker/dockerfile:1
# Multi-stage: compile in one stage, ship the compiled service and its production dependencies.
# Node 20 is the line the project is tested on (package.json "engines", CI): change them together.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: the compiler (esbuild) is one; test and benchmark tools are not.
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN node scripts/build.mjs

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json: "type": "module" makes dist/*.js ES modules; migrations: applied at start.
COPY package.json ./
COPY migrations ./migrations
# The image runs as the unprivileged `node` user. DATA_DIR holds the embedded database (when no
# DATABASE_URL is given) and the outage spool: mount a volume there.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (the service installs its handlers).
CMD ["node", "dist/main.js"]
