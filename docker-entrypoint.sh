#!/bin/sh
# Initialise the data folder on the first start (name and level from the environment), then
# run the command (by default `branchnet serve --dir /data`).
set -eu
data="${BRANCHNET_DATA:-/data}"
if [ ! -f "$data/node.toml" ]; then
    : "${BRANCHNET_NODE_NAME:?set BRANCHNET_NODE_NAME for the first start (the node is initialised then)}"
    branchnet init --dir "$data" --name "$BRANCHNET_NODE_NAME" --level "${BRANCHNET_NODE_LEVEL:-branch}" \
        --listen 0.0.0.0:8470 --public-url "${BRANCHNET_HTTP_PUBLIC_URL:-http://127.0.0.1:8470}"
fi
exec "$@"
