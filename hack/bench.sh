#!/usr/bin/env bash
# Runs the standard set of `karmada bench` scenarios on a release build and writes
# bench/results.md: the machine, each scenario's command and table, and the anchor it is measured
# against (Karmada's published figures, raw etcd, BIND9). Each scenario's JSON goes to
# bench/json/. BENCH_FULL=1 adds the large runs (100 members; 1,000 Deployments), about ten
# minutes more on two cores; BENCH_HUGE=1 adds 10,000 Deployments to 3 members, about 12
# minutes more there. Benchmarks measure; nothing here fails for being slow.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh

require_cargo
install_missing protoc=protobuf-compiler etcd=etcd-server dnsperf=dnsperf named=bind9
cargo build --release --bin karmada
K="${CARGO_TARGET_DIR:-target}/release/karmada"

mkdir -p bench/json
results=bench/results.md
tables=$(mktemp -d)
trap 'rm -rf "$tables"' EXIT

{
    echo "# Benchmark results"
    echo
    echo "Written by \`hack/bench.sh\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD)."
    echo "Reproduce with \`hack/bench.sh\` (\`BENCH_FULL=1\` adds the large runs, \`BENCH_HUGE=1\` 10,000 Deployments)."
    echo
    echo "| machine | |"
    echo "|---|---|"
    echo "| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -1) |"
    echo "| cores | $(nproc) |"
    echo "| memory | $(free -g | awk '/^Mem:/ {print $2}') GiB |"
    echo "| kernel | $(uname -r) |"
    echo "| build | release (\`cargo build --release\`) |"
    echo
    echo "Every figure below was measured in this run. Anchors from Karmada are its published"
    echo "figures, not run here; raw etcd and BIND9 were run side by side in the same run."
} >"$results"

# run TITLE ANCHOR SCENARIO ARGS...: one scenario, its table and anchor appended to the results.
run() {
    local title=$1 anchor=$2 scenario=$3
    shift 3
    local slug
    slug=$(echo "$scenario $*" | tr -c 'a-z0-9\n' '-' | tr -s '-' | sed 's/-$//')
    echo "bench: $scenario $*" >&2
    {
        echo
        echo "## $title"
        echo
        echo "Anchor: $anchor"
        echo
        echo '```text'
        echo "\$ karmada bench $scenario $*"
    } >>"$results"
    if "$K" bench "$scenario" "$@" --out "bench/json/$slug.json" >"$tables/out" 2>"$tables/err"; then
        cat "$tables/out" >>"$results"
    else
        echo "not measured: the run failed. Its last lines:" >>"$results"
        tail -5 "$tables/err" >>"$results"
    fi
    echo '```' >>"$results"
}

run "API server: throughput and latency, embedded store and etcd beside raw etcd puts" \
    "raw etcd puts through etcd-client from the same process (the ceiling), in the table." \
    apiserver
run "Scheduler, end to end: bindings scheduled per second against 100 clusters" \
    "Karmada: 20-100 bindings/s end to end; scheduling P99 32 ms." \
    scheduler --clusters 100 --bindings 1000
run "Propagation: 100 Deployments to 3 members, all created at once" \
    "Karmada: distribution P99 1.0-1.3 s at 100 clusters." \
    propagation --members 3 --workloads 100
run "Propagation: 100 Deployments to 3 members, created at a steady 5 per second" \
    "Karmada: distribution P99 1.0-1.3 s at 100 clusters (ClusterLoader2 paces its creates too)." \
    propagation --members 3 --workloads 100 --rate 5
run "One member cluster: 1,000 simulated nodes and 10,000 pods" \
    "none published; this is the member control plane's own capacity." \
    member
run "DNS: queries per second and latency beside BIND9" \
    "BIND9 serving the same zone, measured with the same dnsperf in the same run (the table's ratio)." \
    dns
run "Failover: a member killed; time until its workloads are Ready elsewhere" \
    "the target is the grace period (15 s) + 5 s; Karmada's defaults: failover off, 40 s grace." \
    failover
run "Footprint: memory at rest, 3 members with agents, 100 Deployments" \
    "Karmada's agent: 266 MiB." \
    footprint --members 3 --workloads 100
run "Footprint: memory at rest, 10 members with agents, 100 Deployments" \
    "Karmada's agent: 266 MiB." \
    footprint --members 10 --workloads 100

if [[ "${BENCH_FULL:-0}" == 1 ]]; then
    run "Propagation at scale: 20 Deployments to 100 members (2,000 member Deployments), all at once" \
        "Karmada: distribution P99 1.0-1.3 s at 100 clusters." \
        propagation --members 100 --workloads 20 --nodes-per-member 1 --timeout-seconds 3600
    run "Propagation at scale: Deployments to 100 members, created at a steady 0.2 per second (20 member Deployments per second)" \
        "Karmada: distribution P99 1.0-1.3 s at 100 clusters." \
        propagation --members 100 --workloads 30 --nodes-per-member 1 --rate 0.2 --timeout-seconds 3600
    run "Propagation at scale: 1,000 Deployments to 3 members" \
        "Karmada: distribution P99 1.0-1.3 s at 100 clusters." \
        propagation --members 3 --workloads 1000 --nodes-per-member 10 --timeout-seconds 3600
    run "Footprint at scale: 100 members with agents" \
        "Karmada's agent: 266 MiB." \
        footprint --members 100 --workloads 20 --nodes-per-member 1 --timeout-seconds 3600
fi
if [[ "${BENCH_HUGE:-0}" == 1 ]]; then
    run "Propagation at scale: 10,000 Deployments to 3 members" \
        "Karmada: distribution P99 1.0-1.3 s at 100 clusters." \
        propagation --members 3 --workloads 10000 --nodes-per-member 100 --timeout-seconds 7200
fi

# The scheduler's pure core (criterion): placement of one binding at 10, 100 and 1,000 clusters.
{
    echo
    echo "## Scheduler core (criterion): one binding placed among 10, 100 and 1,000 clusters"
    echo
    echo "Anchor: Karmada scheduling P99 32 ms (end to end, above)."
    echo
    echo '```text'
    echo "\$ cargo bench -p karmada-scheduler --bench core"
    cargo bench -p karmada-scheduler --bench core 2>/dev/null | grep -E '^[a-z_/0-9 ]+$|time:' || true
    echo '```'
} >>"$results"

echo "bench: wrote $results" >&2
