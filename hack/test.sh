#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh Debian machine, then runs
# formatting and lint checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

require_cargo
install_missing etcd=etcd-server protoc=protobuf-compiler dig=dnsutils ip=iproute2 \
    dnsperf=dnsperf named=bind9
if ! command -v kubectl >/dev/null 2>&1; then
    echo "kubectl is required for the end-to-end tests (1.27-1.33 are expected under /usr/bin)" >&2
    exit 1
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# The request decoders under cargo fuzz, briefly (hack/fuzz.sh runs them longer by default).
FUZZ_SECONDS=${FUZZ_SECONDS:-20} hack/fuzz.sh
