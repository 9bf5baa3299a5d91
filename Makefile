# Thin wrapper around CMake. `make run` and `make test` do all set-up.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RELEASE := build/release
ASAN    := build/asan
FUZZ    := build/fuzz
FUZZ_SECONDS ?= 60
ARGS ?=

.PHONY: all run test build fuzz fuzz-build clean deps memcheck soak bench

all: build

deps:
	@scripts/deps.sh build

build: deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DLARDER_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)

run: build
	@$(RELEASE)/larder $(ARGS)

test:
	@scripts/deps.sh test
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DLARDER_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	@cd $(ASAN) && ctest --output-on-failure -j $(JOBS) --timeout 900
	@scripts/fuzz.sh $(FUZZ) 20

fuzz:
	@scripts/deps.sh test
	@scripts/fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

# Benchmark against Squid, nginx, Varnish (docs/performance.md); not a test.
bench:
	@bench/run.sh

memcheck:
	@scripts/deps.sh test
	@scripts/memcheck.sh build/memcheck

soak:
	@scripts/deps.sh test
	@scripts/soak.sh build/soak

clean:
	rm -rf build
