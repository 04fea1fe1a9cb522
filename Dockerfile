# syntax=docker/dockerfile:1
# Build stage: dependencies, TypeScript, and the backbone built from the npm registry.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Install scripts off: onnxruntime-node's would fetch CUDA files (package.json's allowScripts denies
# it on npm 11; this image's npm predates that, hence --ignore-scripts and the installer's own
# switch), and the project's own `prepare` needs the sources copied below.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY test ./test
RUN npm run build
RUN npm prune --omit=dev

# Runtime stage: production dependencies, compiled code, the built model. Nothing else.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data \
    PORT=3000 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist/src ./dist/src
COPY ui ./ui
COPY --from=build /app/models/resnet50-keras-imagenet ./models/resnet50-keras-imagenet
# The two CC0 reference photos `softpatch doctor` classifies.
COPY --from=build /app/test/fixtures/natural ./test/fixtures/natural
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM starts the graceful shutdown: stop accepting, finish inspections, stop builds cleanly.
STOPSIGNAL SIGTERM
CMD ["node", "bin/softpatch.js", "serve"]
