# vcsync container image: the syncer sidecar of a virtual-cluster pod (see helm/vcsync). Build it with
# `make image` (hack/image/build.sh): no registry is needed, the base is Debian bookworm made locally by debootstrap
# (hack/image/base.sh) and the build reads no network — every wheel comes from build/wheelhouse.
# Stage 1 builds the vcsync wheel and installs it with its dependencies into a self-contained virtualenv; stage 2 is
# the plain base holding only that virtualenv, running as a non-root user. Kubernetes probes call /healthz and
# /readyz on port 8081, so the image has no HEALTHCHECK of its own.
ARG BASE=vcsync-base:bookworm

FROM ${BASE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheelhouse
WORKDIR /src
COPY build/wheelhouse /wheelhouse
COPY pyproject.toml README.md ./
COPY syncer ./syncer
COPY translators ./translators
COPY vocab ./vocab
RUN python3 -m venv /opt/vcsync \
 && /opt/vcsync/bin/pip wheel --no-deps --wheel-dir /dist . \
 && /opt/vcsync/bin/pip install /dist/vcsync-*.whl \
 && /opt/vcsync/bin/pip uninstall --yes pip \
 && /opt/vcsync/bin/vcsync --help >/dev/null

FROM ${BASE}
LABEL org.opencontainers.image.title="vcsync" \
      org.opencontainers.image.description="Syncer sidecar for virtual Kubernetes clusters" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /opt/vcsync /opt/vcsync
ENV PATH=/opt/vcsync/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A fixed numeric non-root user, so `runAsNonRoot` can be verified without a passwd entry.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["vcsync"]
CMD ["run"]
