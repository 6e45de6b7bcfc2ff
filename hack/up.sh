#!/usr/bin/env bash
# The project's run command: installs the protobuf compiler the build needs if it is missing,
# builds the release binary and runs `karmada up` (a federation of 3 member clusters in
# .karmada/) with the arguments given, e.g. `hack/up.sh --members 5 --push-members member5`.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

require_cargo
install_missing protoc=protobuf-compiler
cargo build --release --bin karmada
exec "${CARGO_TARGET_DIR:-target}/release/karmada" up "$@"
