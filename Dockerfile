# vcsync container image: the syncer sidecar of a virtual-cluster pod (see helm/vcsync).
# Stage 1 builds the wheel and installs it with its dependencies into a self-contained virtualenv; stage 2 is a
# plain Python runtime holding only that virtualenv, running as a non-root user. Kubernetes probes call /healthz
# and /readyz on port 8081, so the image has no HEALTHCHECK of its own.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY syncer ./syncer
COPY translators ./translators
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
 && python -m venv /opt/vcsync \
 && /opt/vcsync/bin/pip install --no-cache-dir /dist/vcsync-*.whl \
 && /opt/vcsync/bin/pip uninstall --yes pip \
 && /opt/vcsync/bin/vcsync --help >/dev/null

FROM python:3.11-slim
LABEL org.opencontainers.image.title="vcsync" \
      org.opencontainers.image.description="Syncer sidecar for virtual Kubernetes clusters" \
      org.opencontainers.image.licenses="Apache-2.0"
# The runtime needs no installer: drop pip and friends from the base image.
RUN python -m pip uninstall --yes pip setuptools wheel
COPY --from=builder /opt/vcsync /opt/vcsync
ENV PATH=/opt/vcsync/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A fixed numeric non-root user, so `runAsNonRoot` can be verified without a passwd entry.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["vcsync"]
CMD ["run"]
