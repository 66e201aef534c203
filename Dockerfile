# branchnet node: `docker build -t branchnet .`
#   docker run -d -p 8470:8470 -v branchnet-data:/data -e BRANCHNET_NODE_NAME=... branchnet
# The first start of an empty /data initialises a node (see docs/operating.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY protocol ./protocol
COPY node ./node
RUN pip install . && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin branchnet \
    && mkdir -p /data && chown branchnet:branchnet /data && chmod 0700 /data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

USER branchnet
VOLUME ["/data"]
EXPOSE 8470
ENV BRANCHNET_HTTP_LISTEN=0.0.0.0:8470

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8470/healthz', timeout=4).status != 200)"

ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["branchnet", "serve", "--dir", "/data"]
