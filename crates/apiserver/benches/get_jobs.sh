#!/usr/bin/env bash
# Times `kubectl get jobs -A` (time to the first row and to the last) against `corral up`
# (redb store, release build) holding N Jobs (default 100000), loaded over HTTPS by the
# `http` benchmark's `load-jobs` mode. Usage: crates/apiserver/benches/get_jobs.sh [N]
set -euo pipefail
N=${1:-100000}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -p corral >/dev/null
cargo bench -p corral-apiserver --bench http --no-run >/dev/null 2>&1
LOADER=$(ls -t "$TARGET"/release/deps/http-* | grep -v '\.d$' | head -1)
DIR=$(mktemp -d)
"$TARGET/release/corral" up --data-dir "$DIR" --port 0 >"$DIR/out" 2>"$DIR/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 300); do grep -q '^export KUBECONFIG' "$DIR/out" && break; sleep 0.1; done
export KUBECONFIG="$DIR/kubeconfig" KUBECACHEDIR="$DIR/cache"
"$LOADER" load-jobs --kubeconfig "$KUBECONFIG" --total "$N"
kubectl get ns >/dev/null
# Default chunking (limit=500; kubectl's client-side rate limiter, QPS 5 after a burst of
# 10, spaces the pages 200 ms apart), then one unchunked request.
for args in "" "--chunk-size=0"; do
  python3 - $args <<'PY'
import subprocess, sys, time
start = time.monotonic()
proc = subprocess.Popen(["kubectl", "get", "jobs", "-A"] + sys.argv[1:], stdout=subprocess.PIPE, text=True)
first = None
rows = 0
for line in proc.stdout:
    rows += 1
    if rows == 2 and first is None:
        first = time.monotonic() - start
proc.wait()
total = time.monotonic() - start
print(f"kubectl get jobs -A {' '.join(sys.argv[1:])}: {rows - 1} rows, first row after {first:.2f}s, last after {total:.2f}s")
PY
done
