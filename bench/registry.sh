#!/usr/bin/env bash
# Registry simulation (issue 14): WORKERS fake workers register in etcd under leases, GATEWAYS
# gateway-side watchers follow them, and each of ROUNDS rounds drains DRAIN workers, crashes CRASH
# more (their leases expire after TTL seconds) and brings them all back; registry_bench prints
# p50/p90/p99/max of the time until every gateway's view shows each change. Without ETCD it
# starts its own etcd (/usr/bin/etcd, Debian's etcd-server) on free loopback ports.
#
#   bench/registry.sh                                  # 100 workers, 4 gateways, 10 rounds, TTL 10 s
#   ROUNDS=20 TTL=5 ETCD=127.0.0.1:2379 bench/registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
args=(--workers "${WORKERS:-100}" --gateways "${GATEWAYS:-4}" --rounds "${ROUNDS:-10}"
      --ttl "${TTL:-10}" --drain "${DRAIN:-5}" --crash "${CRASH:-5}")
if [[ -n "${ETCD:-}" ]]; then args+=(--etcd "$ETCD"); fi
exec "$BUILD/bench/registry/registry_bench" "${args[@]}" "$@"
