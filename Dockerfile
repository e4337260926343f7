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
CMD ["serve", "-listen", "0.0.0.0:8080"]
