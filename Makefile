# The two commands the README gives:
#   make demo   run the main job on the embedded default
#   make test   run the tests (what .ci/run calls)
GO      ?= go
BIN     := bin
CACHE   := $(CURDIR)/.cache
export ATTND_CACHE := $(CACHE)

.PHONY: all build setup test demo bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# setup installs what the tests and the demo need (chDB engine, Kafka jars,
# vsftpd, kcat) into .cache or from Debian; every step is idempotent.
setup:
	bash scripts/setup.sh

test: setup
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 45m ./...

demo: setup
	$(GO) run ./cmd/demo --dir var/demo

bench: setup
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN) var
