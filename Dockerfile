# capq: one image for `capq worker`, `capq dashboard`, `capq enqueue` and the rest.
#
# Build:  docker build -t capq .
# Run:    docker run --rm capq worker --url redis://… --data s3://bucket/capmetrics
# No credentials are ever copied in: Redis URLs and AWS_* come from the environment at run time
# (Kubernetes Secrets, see deploy/k8s).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY scripts/build-release ./scripts/build-release
# The same command CI builds with (scripts/build-release: cargo build --release --locked -p capq).
RUN ./scripts/build-release

# Distroless: glibc, CA certificates and a non-root user; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/capq /usr/local/bin/capq
# The bundled sample, so `docker run capq run` works out of the box.
COPY --chown=65532:65532 data/sample /data/sample
ENV CAPQ_DATA=/data/sample
# distroless's nonroot user, by number so Kubernetes' runAsNonRoot can check it.
USER 65532:65532
WORKDIR /tmp
EXPOSE 9100 9181
ENTRYPOINT ["/usr/local/bin/capq"]
CMD ["--help"]
