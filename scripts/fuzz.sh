#!/usr/bin/env bash
# Fuzzes Keel's parsers of untrusted input with libFuzzer (fuzz/README.md).
#
#   scripts/fuzz.sh                       every target for FUZZ_SECONDS each (default 10: what CI runs)
#   scripts/fuzz.sh TARGET [SECONDS]      one target (SECONDS=0: until stopped)
#   FUZZ_JOBS=2 scripts/fuzz.sh TARGET 3600   a long run on two cores
#
# The instrumented build (ASan + libFuzzer coverage, -DFUZZING) lives in .build-fuzz, apart from the
# normal one. New interesting inputs go to fuzz/generated/TARGET (not committed); a crash is written to
# fuzz/crashes/ and fails the script: add it under fuzz/regressions/TARGET, fix the parser, and the normal
# build's `keel-fuzz TARGET fuzz/regressions/TARGET` (run by scripts/test.sh) keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(wal-segment snapshot proto-request gateway-json grpc-http2 raft-message)
seconds="${FUZZ_SECONDS:-10}"
if [[ $# -ge 1 ]]; then targets=("$1"); fi
if [[ $# -ge 2 ]]; then seconds="$2"; fi

resource_dir="$(swiftc -print-target-info | python3 -c 'import json,sys; print(json.load(sys.stdin)["paths"]["runtimeResourcePath"])')"
fuzzer_lib="$(ls "$resource_dir"/../clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)"
# Swift's -sanitize=fuzzer links libFuzzer's own main; keel-fuzz has a main of its own (it also replays
# inputs), so the objects get libFuzzer's coverage flags and the no-main runtime is linked instead.
mkdir -p fuzz/crashes
echo "building the instrumented keel-fuzz in .build-fuzz (log: fuzz/crashes/build.log)"
swift build --scratch-path .build-fuzz --product keel-fuzz \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp -Xswiftc -DFUZZING \
    -Xcc -fsanitize=address -Xcc -fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp \
    -Xlinker "$fuzzer_lib" -Xlinker -lstdc++ > fuzz/crashes/build.log 2>&1 || { tail -30 fuzz/crashes/build.log; exit 1; }
binary=.build-fuzz/debug/keel-fuzz

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:symbolize=1:handle_abort=1}"
for t in "${targets[@]}"; do
    mkdir -p "fuzz/generated/$t"
    echo "== $t: ${seconds}s"
    jobs=()
    if [[ "${FUZZ_JOBS:-1}" -gt 1 ]]; then jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS"); fi
    "$binary" "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        "${jobs[@]}" -print_final_stats=1 \
        -artifact_prefix="fuzz/crashes/$t-" "fuzz/generated/$t" "fuzz/corpus/$t" "fuzz/regressions/$t" 2>&1 | tail -15
    status=${PIPESTATUS[0]}
    if [[ $status -ne 0 ]]; then echo "fuzz: $t failed (exit $status); inputs in fuzz/crashes/"; exit 1; fi
done
