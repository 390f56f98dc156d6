# syntax=docker/dockerfile:1.7
# One static, non-root image for every target of the tungsten binary:
#   docker build --build-arg VERSION=v1.2.3 --build-arg REVISION=$(git rev-parse HEAD) -t tungsten .
#   docker run --rm -p 8080:8080 tungsten serve                 # everything in one process
#   docker run --rm tungsten serve --target=blog ...             # one service (Kubernetes: deploy/kubernetes)
# The runtime stage has no shell and no package manager; it runs as UID/GID 65532.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits reuse the module cache layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG REVISION=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/tungsten ./cmd/tungsten
# The embedded default writes ./data; give the non-root user a writable directory
# (Kubernetes mounts an emptyDir there because the root filesystem is read-only).
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/tungsten-blog/tungsten
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="tungsten" \
      org.opencontainers.image.description="Tungsten blogging platform: gateway, auth, users, blog and web in one binary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/tungsten /usr/local/bin/tungsten
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /
ENV TUNGSTEN_DATA_DIR=/data
USER 65532:65532
# 8080: public HTTP (API and web UI); 9090: admin (/healthz, /readyz, /metrics) - keep it private.
# The admin listener binds 127.0.0.1 unless TUNGSTEN_ADMIN_ADDR says otherwise (Kubernetes sets 0.0.0.0:9090).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/tungsten"]
CMD ["serve"]
