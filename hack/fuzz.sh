#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) with cargo fuzz for FUZZ_SECONDS each (default
# 60), installing cargo-fuzz and a nightly toolchain when missing. A crash stops the run and
# leaves its input under fuzz/artifacts/<target>/ to reproduce with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

require_cargo
seconds=${FUZZ_SECONDS:-60}
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cd fuzz
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in $targets; do
    echo "fuzzing $target for ${seconds}s"
    # -rss_limit_mb: a decoder that blows up memory on a small input is a finding too.
    status=0
    cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^stat::number_of_executed_units' "$log" || true
    if ((status != 0)); then
        tail -n 60 "$log" >&2
        echo "fuzz target $target failed; its input is under fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
