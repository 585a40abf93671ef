# grid as an image, with nothing in it but grid: the single executable (dist/grid), the shared
# libraries it links, CA certificates and the docker CLI (for the docker runner, through the
# host's socket). `npm run image` stages those from this machine into a build context and
# builds this file; no registry and no base image are involved. The same image is the docker
# runner's `builtin` tool (`grid engine ...`, since the entrypoint is grid); with no
# arguments it is the daemon, configured by GRID_* variables (GRID_NATS_URL, GRID_NODE_ID, ...).
#
#   npm run build && npm run image               # -> grid:latest
#   docker run -d --init --name grid-node --network host \
#     -e GRID_NATS_URL=nats://nats.example:4222 -e GRID_NODE_ID=$(hostname) \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /var/lib/grid:/var/lib/grid \
#     grid:latest
#
# `--init` reaps what tools leave behind (grid would otherwise be PID 1). The work directory
# must have the same path inside this container and on the host (/var/lib/grid above, owned
# by uid 10001): containers the docker runner starts mount it by its host path.
# Stop with `docker stop -t 30 grid-node`: SIGTERM stops the running tests with their grace,
# publishes their terminal events and removes the node's heartbeat before exiting 0.
FROM scratch
COPY rootfs/ /
COPY --chown=10001:10001 home/ /var/lib/grid/
ENV PATH=/usr/local/bin \
    HOME=/var/lib/grid \
    GRID_WORK_DIR=/var/lib/grid/work \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
USER 10001:10001
WORKDIR /var/lib/grid
ENTRYPOINT ["/usr/local/bin/grid"]
CMD ["daemon"]
