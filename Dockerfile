# Build a static binary, then run it as a non-root user on a minimal base.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/korobka ./cmd/korobka \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/korobka /korobka
COPY --from=build --chown=65532:65532 /out/data /data
ENV KOROBKA_ADDR=:8080 KOROBKA_DATA=/data
EXPOSE 8080
VOLUME /data
USER 65532:65532
ENTRYPOINT ["/korobka"]
CMD ["serve"]
