# One image for every Shelfmark process; the command chooses which one runs.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node's postinstall fetches CUDA libraries from outside the npm registry; the CPU
# runtime is in the package. npm 11 skips it through package.json allowScripts, older npm here.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --no-audit --no-fund
# Everything tsconfig.json includes, and schema/ (the project root is found by package.json + schema/).
COPY tsconfig.json ./
COPY src ./src
COPY subgraphs ./subgraphs
COPY gateway ./gateway
COPY bench ./bench
COPY schema ./schema
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY schema ./schema
COPY models ./models
COPY data/catalogue ./data/catalogue
USER node
EXPOSE 4000 4001 4002 4003 4004 4005 4006
CMD ["node", "dist/src/cli/gateway.js"]
