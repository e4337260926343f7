# valuerx: a static binary on a distroless base. Build: docker build -t valuerx .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/valuerx ./cmd/valuerx

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/valuerx /valuerx
COPY config /config
WORKDIR /home/nonroot
EXPOSE 8080
ENTRYPOINT ["/valuerx"]
# Production: mount your configuration (config/example.yaml documents every key) at
# /etc/valuerx/valuerx.yaml, with listen: 0.0.0.0:8080. The demo (development client) refuses a
# non-loopback listen, so it does not run in a bridged container; see docker-compose.yml.
CMD ["serve", "-config", "/etc/valuerx/valuerx.yaml"]
