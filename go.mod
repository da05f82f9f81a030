module github.com/pilotage/pilotage

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0
	go.opentelemetry.io/otel/trace v1.45.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.opentelemetry.io/otel v1.45.0 // indirect
)
