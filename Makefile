# cairn: the commands a newcomer needs, and more.
GO      ?= go
BIN     := bin
SIZE    ?= 512MiB
RUNS    ?= 5
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME ?= 10s
FUZZMINIMIZE ?= 60s
# Fuzz targets as package:target; make test gives the FUZZ_NEW ones 5 s each.
FUZZ_NEW     := ./repo:FuzzEnvelope ./repo:FuzzPack ./repo:FuzzFrame ./repo:FuzzIndex ./repo:FuzzSnapshot ./repo:FuzzConfig ./repo:FuzzList ./httpapi:FuzzHandler ./chunk/record:FuzzRecordLine
FUZZ_TARGETS ?= ./engine/exported:FuzzDecode $(FUZZ_NEW)
# cairn hashes small chunks sixteen at a time with Go's SIMD package (chunk/many_simd.go),
# which exists only with this experiment; without it the same ids come from the scalar
# BLAKE3 code, slower. The peers and servers below are built without it.
export GOEXPERIMENT ?= simd

.PHONY: all build cross test test-windows dist test-short crash-long test-sdk sdk-deps browser-deps vet fuzz bench bench-chunking bench-api bench-peers borg-installed serve demo clean

all: build

# cairn version prints the commit (cmd/cairn/version.go).
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)

build:
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o $(BIN)/cairn ./cmd/cairn

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }

# Every package, tests included, type-checked and vetted for the other systems cairn
# is built for (linux/amd64 is vet's own); the test binaries are linked for macOS too
# (make test-windows links and runs the Windows ones).
CROSS ?= linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64 freebsd/amd64
cross:
	@for t in $(CROSS); do echo "vet $$t"; GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... || exit 1; done
	@d=$$(mktemp -d) && echo "test binaries darwin/arm64" && GOOS=darwin GOARCH=arm64 $(GO) test -c -o $$d/ ./... && rm -rf $$d

# Windows, run for real under Wine (Debian's wine64, which testdata/wine/setup.sh
# installs and prepares): the test binaries of repo, transport/local, engine/localdb,
# engine and cmd/cairn, the last with the CLI round trip and a restore into the
# daemon's open database (TestRoundTrip). Built once, run one at a time. Left out:
# TestServeStopsWhileClientsHang (it sends SIGTERM to cairn serve, and Windows cannot
# signal another process), the password file's ACL tests (Wine accepts an ACL on a file
# but does not apply it) and the Linux-only crash harness; testdata/wine/test.sh says
# more.
test-windows:
	GO=$(GO) testdata/wine/test.sh

# The README's test command: everything CI runs. The dashboard's browser tests
# (httpapi/browser) need chromium there and save their screenshots in ./screenshots.
test: vet cross sdk-deps browser-deps
	CAIRN_SDK_DIR=$(CURDIR)/testdata/sdk/node_modules/@pieces.app/pieces-os-client \
	CAIRN_BROWSER_REQUIRED=1 CAIRN_SCREENSHOTS=$(CURDIR)/screenshots \
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory test-windows
	$(MAKE) --no-print-directory fuzz FUZZTIME=20s FUZZMINIMIZE=1s FUZZ_TARGETS=./engine/exported:FuzzDecode
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s FUZZMINIMIZE=1s FUZZ_TARGETS='$(FUZZ_NEW)'
	$(MAKE) test-sdk

# The published Pieces SDK (npm, pinned with a lock file in testdata/sdk).
sdk-deps:
	cd testdata/sdk && npm ci --no-audit --no-fund --loglevel=error

# Debian's chromium, for the dashboard's browser tests; installed when missing.
browser-deps:
	testdata/browser/setup.sh >/dev/null

# The SDK against a real cairn serve.
test-sdk: build sdk-deps
	cd testdata/sdk && CAIRN_BIN=$(CURDIR)/$(BIN)/cairn node --test

# Each fuzz target for FUZZTIME (make fuzz FUZZTIME=10m for a long hunt). A failing
# input is written to the package's testdata/fuzz/<target>/: commit it with the fix.
# Go's fuzzer can end a short run with "context deadline exceeded" when a worker is
# still minimizing a new input at the deadline; that is no finding (a finding writes its
# input under testdata/fuzz), so such a run is repeated once.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		for try in 1 2; do \
			echo "fuzz $$t for $(FUZZTIME)"; \
			before=$$(ls $$pkg/testdata/fuzz/$$name 2>/dev/null | wc -l); \
			if $(GO) test -count=1 -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg > .fuzz.log 2>&1; then cat .fuzz.log; break; fi; \
			cat .fuzz.log; \
			after=$$(ls $$pkg/testdata/fuzz/$$name 2>/dev/null | wc -l); \
			if [ $$try = 2 ] || [ $$after != $$before ] || ! grep -q "context deadline exceeded" .fuzz.log; then rm -f .fuzz.log; exit 1; fi; \
			echo "no finding (deadline while minimizing): once more"; \
		done; \
	done; rm -f .fuzz.log

test-short:
	$(GO) test -short -count=1 ./...

# Crash safety at scale (cmd/cairn/crash_test.go): 500 SIGKILLs each of backup, forget,
# prune and restore on an 8 MiB database, then 50 rounds of two backups and a prune
# started together. CAIRN_CRASH_KILLS, CAIRN_CRASH_SIZE, CAIRN_CONCURRENT_ROUNDS and
# CAIRN_CRASH_SEED in the environment override.
crash-long: build
	CAIRN_BIN=$(CURDIR)/$(BIN)/cairn CAIRN_CRASH_KILLS=$${CAIRN_CRASH_KILLS:-500} CAIRN_CRASH_SIZE=$${CAIRN_CRASH_SIZE:-8MiB} \
	CAIRN_CONCURRENT_ROUNDS=$${CAIRN_CONCURRENT_ROUNDS:-50} \
	$(GO) test -count=1 -timeout 0 -v -run '^(TestCrashSafety|TestConcurrentBackupsAndPrune)$$' ./cmd/cairn

# Peers and servers, built from pinned tool modules (kept out of the product's go.mod).
$(BIN)/rest-server:
	cd testdata/tools && GOEXPERIMENT= $(GO) build -o $(CURDIR)/$(BIN)/rest-server github.com/restic/rest-server/cmd/rest-server
$(BIN)/restic:
	cd testdata/peers && GOEXPERIMENT= $(GO) build -o $(CURDIR)/$(BIN)/restic github.com/restic/restic/cmd/restic
# kopia v0.22.3, a third peer in make bench.
$(BIN)/kopia:
	cd testdata/kopia && GOEXPERIMENT= $(GO) build -o $(CURDIR)/$(BIN)/kopia github.com/kopia/kopia
# MinIO, for trying s3: repositories by hand (the tests build and cache their own, or
# use $MINIO_SERVER).
$(BIN)/minio:
	cd testdata/minio && GOEXPERIMENT= $(GO) build -o $(CURDIR)/$(BIN)/minio github.com/minio/minio

# Chunking trade-off and incremental-backup figures on the generator's workload.
bench-chunking: build
	$(GO) run ./cmd/cairnbench -size $(SIZE) -averages 256,512,1KiB,2KiB,4KiB,16KiB,64KiB

# Database export and import through cairn serve.
bench-api: build
	$(GO) run ./cmd/cairnbench -api -cairn $(BIN)/cairn -size 1GiB

# cairn, restic 0.18.1, borg and kopia v0.22.3 on the same database, local and (cairn
# and restic) through rest-server, 5 runs each with the order rotated, medians and
# ratios against the best peer; then cairn's size series.
bench-peers: build $(BIN)/rest-server $(BIN)/restic $(BIN)/kopia $(BIN)/minio borg-installed
	$(GO) run ./cmd/cairnbench -peers -cairn $(BIN)/cairn -restic $(BIN)/restic -kopia $(BIN)/kopia -rest-server $(BIN)/rest-server -minio $(BIN)/minio -size $(SIZE) -runs $(RUNS)

# Debian's borgbackup, installed when missing.
borg-installed:
	@command -v borg >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q borgbackup; }

bench: bench-peers

# The main job: the Pieces backup API on http://127.0.0.1:1000 with a local database
# and a local repository under ~/.local/share/cairn (CAIRN_ADDR, CAIRN_DATA and
# CAIRN_REPOSITORY change them).
serve: build
	$(BIN)/cairn serve

# A backup round trip on a generated database, from the command line.
demo: export CAIRN_PASSWORD = demo password
demo: build
	rm -rf .demo && mkdir -p .demo
	$(BIN)/cairn generate --size 64MiB .demo/db
	$(BIN)/cairn --repo .demo/repo init
	$(BIN)/cairn --repo .demo/repo backup .demo/db
	$(BIN)/cairn generate --mutate 0.01 --seed 2 .demo/db
	$(BIN)/cairn --repo .demo/repo backup .demo/db
	$(BIN)/cairn --repo .demo/repo snapshots
	$(BIN)/cairn --repo .demo/repo check --read-data

# Release builds: stripped binaries for each system cairn supports, named
# cairn-<version>-<os>-<arch>[.exe], in dist/ with their SHA-256 sums (SHA256SUMS,
# checked with sha256sum -c). cairn version shows the version and commit. The SIMD
# BLAKE3 path is compiled in on amd64 only (GOEXPERIMENT=simd) and used where the CPU
# has AVX-512; elsewhere, arm64 included, the scalar code runs.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST    ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
dist:
	rm -rf dist && mkdir -p dist
	@for t in $(DIST); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		name=dist/cairn-$(VERSION)-$$os-$$arch$$ext; echo "build $$name"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
			-ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $$name ./cmd/cairn || exit 1; \
	done
	cd dist && sha256sum cairn-* > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf $(BIN) .demo .bench dist screenshots
