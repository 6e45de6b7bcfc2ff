#!/usr/bin/env bash
# Shared by the hack/ scripts. Sourced, not run.

# install_missing COMMAND=PACKAGE...: installs with apt-get the Debian package of every command
# that is not on PATH (as root on a fresh machine; otherwise says what to install).
install_missing() {
    local need=() pair
    for pair in "$@"; do
        command -v "${pair%%=*}" >/dev/null 2>&1 || need+=("${pair#*=}")
    done
    ((${#need[@]})) || return 0
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "missing: ${need[*]}; install them (on Debian: apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

require_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo is required: install Rust from https://rustup.rs" >&2
        exit 1
    fi
}
