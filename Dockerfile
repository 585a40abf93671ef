# The grid node agent as an image: `grid daemon`, configured by GRID_* environment variables
# (every flag has one: GRID_NATS_URL, GRID_NODE_ID, GRID_CAPACITY, ...; see `grid daemon --help`).
#
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build step.
# The docker CLI is inside so the docker runner can drive the host's engine through its
# socket. Not built in this repository's CI (no registry is reachable there).
#
#   docker build -t grid .
#   docker run -d --name grid-node --network host \
#     -e GRID_NATS_URL=nats://nats.example:4222 -e GRID_NODE_ID=$(hostname) \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /var/lib/grid:/var/lib/grid \
#     grid daemon
#
# The work directory must have the same path inside this container and on the host
# (/var/lib/grid above): containers the docker runner starts mount it by its host path.
# Stop with `docker stop -t 30 grid-node`: SIGTERM stops the running tests with their grace,
# publishes their terminal events and removes the node's heartbeat before exiting 0.
FROM node:24-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends docker.io tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home grid \
 && mkdir -p /var/lib/grid/work && chown -R grid /var/lib/grid

WORKDIR /opt/grid
COPY package.json package-lock.json ./
# The `node` devDependency (Node 24 for machines whose node is older) is not needed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY src ./src

USER grid
ENV GRID_WORK_DIR=/var/lib/grid/work
# The entrypoint is `grid`, so the same image also serves the docker runner's `builtin`
# tool (`grid engine ...`); with no arguments it is the daemon.
ENTRYPOINT ["tini", "--", "node", "/opt/grid/src/cli/main.ts"]
CMD ["daemon"]
