# rsp-images container image: a minimal non-root runtime holding the binary.
#
#   docker build -t rsp-images .          # compiles the binary in the build stage
#   buildah build --build-arg BINARY_FROM=prebuilt \
#       --build-arg BINARY=target/release/rsp-images -t rsp-images .
#                                         # packages a binary built beforehand (CI does this,
#                                         # see scripts/check-image)
#
# The runtime image holds only the binary, glibc and libgcc (the binary links them), CA
# certificates (HTTPS to registries and the Kubernetes API) and an unprivileged user; it has
# no shell or package manager.

# Where the binary comes from: the `build` stage, or `prebuilt` (a file of the context).
ARG BINARY_FROM=build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY src src
# The crates.io download cache and the target directory are cache mounts kept between
# builds, so a rebuild after a source edit compiles only the workspace crates, not the
# dependencies. They are not part of any layer: the binary is copied out of them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin rsp-images \
    && install -D -m 0755 -s target/release/rsp-images /out/rsp-images

FROM scratch AS prebuilt
ARG BINARY=target/release/rsp-images
COPY ${BINARY} /out/rsp-images

FROM ${BINARY_FROM} AS binary

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=binary /out/rsp-images /usr/local/bin/rsp-images
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/rsp-images"]
CMD ["serve", "--config", "/etc/rsp-images/config.yaml", "--listen", "0.0.0.0:8080"]
