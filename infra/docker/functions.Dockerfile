# syntax=docker/dockerfile:1
# The functions image: every Node part of Proteus (api, segment, arbitrator, realtime, the stream
# and tick sources); PROTEUS_FUNCTION picks the one a container runs (infra/bin/start-function.ts).
# The same image func.yaml builds with the pack builder. From the repository root:
#   docker build -f infra/docker/functions.Dockerfile -t proteus/functions:dev .
# The segment model comes from functions/segment/model: put the real one in model/hub first
# (functions/segment/README.md); without it only the tiny random model is there.

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# 1. every dependency, to build the web app the api serves
FROM ${NODE_IMAGE} AS build
WORKDIR /workspace
# onnxruntime-node bundles its CPU libraries; skip its CUDA download
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
COPY eventing/package.json eventing/
COPY testkit/package.json testkit/
COPY functions/api/package.json functions/api/
COPY functions/arbitrator/package.json functions/arbitrator/
COPY functions/common/package.json functions/common/
COPY functions/realtime/package.json functions/realtime/
COPY functions/segment/package.json functions/segment/
COPY gpu-worker/package.json gpu-worker/
COPY web/package.json web/
COPY infra/package.json infra/
COPY bench/package.json bench/
COPY scripts/package.json scripts/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx turbo run build --filter=@proteus/web

# 2. what runs: production dependencies only (tsx among them: the parts run their TypeScript source)
FROM ${NODE_IMAGE}
WORKDIR /workspace
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip HOST=0.0.0.0
COPY --from=build /workspace/package.json /workspace/package-lock.json ./
COPY --from=build /workspace/eventing/package.json eventing/
COPY --from=build /workspace/testkit/package.json testkit/
COPY --from=build /workspace/functions/api/package.json functions/api/
COPY --from=build /workspace/functions/arbitrator/package.json functions/arbitrator/
COPY --from=build /workspace/functions/common/package.json functions/common/
COPY --from=build /workspace/functions/realtime/package.json functions/realtime/
COPY --from=build /workspace/functions/segment/package.json functions/segment/
COPY --from=build /workspace/gpu-worker/package.json gpu-worker/
COPY --from=build /workspace/web/package.json web/
COPY --from=build /workspace/infra/package.json infra/
COPY --from=build /workspace/bench/package.json bench/
COPY --from=build /workspace/scripts/package.json scripts/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.base.json ./
COPY eventing/ eventing/
COPY functions/ functions/
COPY infra/bin/ infra/bin/
COPY infra/src/functions.ts infra/src/
COPY --from=build /workspace/web/dist web/dist
# the image's own non-root user (node, 1000), by number so runAsNonRoot can check it
USER 1000:1000
EXPOSE 8080
CMD ["node", "--import", "tsx", "infra/bin/start-function.ts"]
