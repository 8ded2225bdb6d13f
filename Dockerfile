# rsp-images container image: build with the Rust toolchain, run on a minimal non-root base.
#
#   docker build -t rsp-images .
#
# The runtime image holds only the binary, CA certificates (for HTTPS to registries and the
# Kubernetes API) and an unprivileged user; it has no shell or package manager.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY src src
RUN cargo build --release --locked --bin rsp-images \
    && strip target/release/rsp-images

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/rsp-images /usr/local/bin/rsp-images
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/rsp-images"]
CMD ["serve", "--config", "/etc/rsp-images/config.yaml", "--listen", "0.0.0.0:8080"]
