# carelake: a thin wrapper over CMake.
#   make            build into build/
#   make demo       install missing packages, build, run the demo
#   make test       install missing packages, build (normal, and ASan+UBSan
#                   with the libFuzzer targets), run every test with ctest
#   make bench      build and run the benchmarks
#   make install PREFIX=/usr/local
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all build deps demo test test-normal test-sanitize bench install clean

all: build

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build build -j$(JOBS)

deps:
	@scripts/deps.sh

demo: deps build
	./build/carelake demo

test: deps test-normal test-sanitize

test-normal: build
	cd build && ctest --output-on-failure -j$(JOBS)

# clang with AddressSanitizer + UndefinedBehaviorSanitizer; also builds and
# runs the libFuzzer targets for every parser of outside input
test-sanitize:
	@CC=clang cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug \
		-DCARELAKE_SANITIZE=ON -DCARELAKE_FUZZ=ON -DCARELAKE_BENCH=OFF >/dev/null
	@cmake --build build-sanitize -j$(JOBS)
	cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j$(JOBS)

bench:
	@scripts/deps.sh bench
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)
	./build/bench/bench_bronze
	./build/bench/bench_audit
	./build/bench/bench_json
	./build/bench/bench_batch
	./build/bench/bench_parquet
	./build/bench/bench_serve ./build/carelake
	bench/bench_http.sh ./build/carelake
	bench/bench_audit_serve.sh ./build/carelake

install: build
	cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-sanitize
