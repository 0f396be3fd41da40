#!/usr/bin/env bash
# Builds the libFuzzer targets for the wire decoder and the envelope parser and runs each
# for FUZZ_SECONDS (default 60). What `make fuzz` runs; see Fuzz/README.md.
#
#   FUZZ_SECONDS=600 Fuzz/fuzz.sh           each target 10 minutes
#   FUZZ_TARGETS=wire Fuzz/fuzz.sh          only one target
#   FUZZ_ARGS="-runs=0" Fuzz/fuzz.sh        extra libFuzzer flags (here: replay the corpus only)
#
# SwiftPM cannot add -sanitize=fuzzer to one target, so this calls swiftc directly and
# compiles the library's sources and the target as one module. Only the folders the decode
# path reaches are compiled (SOURCE_DIRS): the decoders depend on nothing in Broker/, Node/,
# Store/, Transport/ or Support/, so the fuzz build is quicker, links only libsodium, and
# keeps working while those folders are mid-change. Add a folder here if a decoder ever
# needs one (the build then fails with "cannot find 'X' in scope"). Work files (binaries, the
# growing corpus, crash inputs, logs) live under .build/fuzz/, never in git: a crash input
# worth keeping goes to Tests/AgencyBusTests/FuzzCrashes/ by hand (README says how).
# Exit status: 0 when no target crashed, 1 otherwise (every target still runs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-wire header}
SWIFTC=${SWIFTC:-swiftc}
OUT=.build/fuzz
mkdir -p "$OUT"

SOURCE_DIRS="Sources/AgencyBus/Model Sources/AgencyBus/Wire Sources/AgencyBus/Crypto Sources/AgencyBus/Topology"
# Single files from other folders: the JSON an operator client decodes (STATS, EVENT).
SOURCE_FILES="Sources/AgencyBus/Broker/BrokerStatsSnapshot.swift Sources/AgencyBus/Broker/BrokerEvent.swift"

# shellcheck disable=SC2086 # SOURCE_DIRS is a list
sources() { { find $SOURCE_DIRS -name '*.swift'; printf '%s\n' $SOURCE_FILES; } | LC_ALL=C sort; }

build() {  # target → binary path; rebuilds only when a source is newer than the binary
    local target=$1 entry bin
    case $target in
        wire) entry=Fuzz/WireFuzz.swift ;;
        header) entry=Fuzz/HeaderFuzz.swift ;;
        *) echo "fuzz: unknown target '$target' (known: wire header)" >&2; exit 64 ;;
    esac
    bin=$OUT/$target-fuzz
    if [[ ! -x $bin ]] || [[ -n $(find $(sources) Fuzz/*.swift -newer "$bin" | head -1) ]]; then
        echo "fuzz: building $bin" >&2  # stderr: stdout returns the path
        # -module-name AgencyBus: the library's sources compile as themselves; the flag
        # AGENCYBUS_FUZZ_BUILD drops FuzzDecodePath.swift's `import AgencyBus`.
        # The linker warns "Cannot export local symbol '__asan_…'"; harmless, filtered.
        "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g \
            -module-name AgencyBus -D AGENCYBUS_FUZZ_BUILD \
            -I Sources/CZMQ -I Sources/CSQLite -I Sources/CSodium -I Sources/CCrypto \
            $(sources) Fuzz/FuzzDecodePath.swift "$entry" \
            -lsodium -lcrypto -o "$bin" 2>&1 \
            | grep -v -e 'Cannot export local symbol' -e 'warning: result of call' >&2 || true
        [[ -x $bin ]] || { echo "fuzz: build of $bin failed" >&2; exit 70; }
    fi
    echo "$bin"
}

status=0
for target in $TARGETS; do
    bin=$(build "$target")
    work=$OUT/$target
    mkdir -p "$work/corpus" "$OUT/crashes"
    echo "fuzz: $target for ${SECONDS_PER_TARGET}s (log: $work/fuzz-0.log)"
    # One worker on one core (the machine is shared). New inputs go to the first corpus
    # directory (.build), the checked-in seeds are read from the second.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    if ! (cd "$work" && "$ROOT/$bin" -workers=1 -jobs=1 -max_total_time="$SECONDS_PER_TARGET" \
            -dict="$ROOT/Fuzz/agencybus.dict" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$ROOT/$OUT/crashes/$target-" \
            ${FUZZ_ARGS:-} corpus "$ROOT/Fuzz/corpus/$target" >/dev/null 2>&1); then
        status=1
    fi
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==ERROR|Fatal error|SUMMARY|artifact_prefix|Test unit written)' \
        "$work/fuzz-0.log" | sed "s/^/fuzz: $target: /" || true
done

if [[ $status -ne 0 ]]; then
    echo "fuzz: a target crashed; inputs are in $OUT/crashes/ (replay: $OUT/<target>-fuzz FILE)" >&2
fi
exit $status
