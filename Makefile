# carelake: a thin wrapper over CMake.
#   make            install missing packages, build into build/
#   make demo       install missing packages, build, run the demo
#   make test       install missing packages, build (normal, and ASan+UBSan
#                   with the libFuzzer targets, and ThreadSanitizer), run
#                   the tests with ctest in each; warnings are errors
#   make bench      build and run the benchmarks
#   make install PREFIX=/usr/local
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# tests mostly wait (on servers, disks, node, a browser): ctest runs twice
# as many as there are cores; tests that keep cores busy say so (PROCESSORS
# in tests/CMakeLists.txt) and count for more than one
TEST_JOBS ?= $(shell echo $$(( $(JOBS) * 2 )))
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all build deps demo test test-normal test-sanitize test-tsan bench install clean

all: build

# the dashboards' npm packages are built into the binary: deps first
build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build build -j$(JOBS)

deps:
	@scripts/deps.sh

demo: deps build
	./build/carelake demo

test: deps test-normal test-sanitize test-tsan

# gcc, optimised, with assert() compiled in and warnings as errors
test-normal:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
		-DCARELAKE_WERROR=ON -DCARELAKE_ASSERTS=ON >/dev/null
	@cmake --build build -j$(JOBS)
	cd build && ctest --output-on-failure -j$(TEST_JOBS)

# clang with AddressSanitizer + UndefinedBehaviorSanitizer; also builds and
# runs the libFuzzer targets for every parser of outside input. Waits in the
# tests are twice as long: ASan runs 2-3x slower. Two slow
# end-to-end runs are left to the normal build, to keep CI's half hour:
# runtime_simulate (hours of simulated wards; the stream it drives runs
# under ASan in runtime_stream and runtime_live) and runtime_web_browser (a
# browser's session; its server's routes run under ASan in runtime_web).
ASAN_SKIP = ^(runtime_simulate|runtime_web_browser)$$
test-sanitize:
	@CC=clang cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug \
		-DCARELAKE_SANITIZE=ON -DCARELAKE_FUZZ=ON -DCARELAKE_BENCH=OFF \
		-DCARELAKE_WERROR=ON >/dev/null
	@cmake --build build-sanitize -j$(JOBS)
	cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		CARELAKE_TEST_SLOWDOWN=2 ctest --output-on-failure -j$(TEST_JOBS) -E '$(ASAN_SKIP)'

# clang with ThreadSanitizer: the tests labelled tsan (unit tests and the
# runtime tests, whose server and clients run threads). Every report from
# any process, the servers the tests start included, goes to
# build-tsan/tsan-reports and fails the run. Nothing is suppressed.
TSAN_REPORTS = $(CURDIR)/build-tsan/tsan-reports
test-tsan:
	@CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCARELAKE_TSAN=ON -DCARELAKE_ASSERTS=ON -DCARELAKE_BENCH=OFF \
		-DCARELAKE_WERROR=ON >/dev/null
	@cmake --build build-tsan -j$(JOBS)
	@rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 \
		log_path=$(TSAN_REPORTS)/report" \
		CARELAKE_TEST_SLOWDOWN=4 ctest --output-on-failure -j$(TEST_JOBS) -L tsan
	@if ls $(TSAN_REPORTS)/report* >/dev/null 2>&1; then \
		cat $(TSAN_REPORTS)/report*; echo "ThreadSanitizer reported the races above"; exit 1; fi

bench:
	@scripts/deps.sh bench
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)
	./build/bench/bench_bronze
	./build/bench/bench_audit
	./build/bench/bench_json
	./build/bench/bench_batch
	./build/bench/bench_parquet
	./build/bench/bench_export
	./build/bench/bench_serve ./build/carelake
	bench/bench_http.sh ./build/carelake
	bench/bench_audit_serve.sh ./build/carelake
	bench/bench_fhir.sh ./build/carelake ./build/bench/bench_fhir_sql
	bench/bench_dashboards.sh ./build/carelake
	bench/bench_ml.sh ./build/carelake
	bench/bench_lake_objstore.sh ./build/carelake
	bench/bench_kafka.sh ./build/carelake ./build/bench/bench_kafka_mock ./build/bench/bench_serve

install: build
	cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-sanitize build-tsan
