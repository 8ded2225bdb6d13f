#!/usr/bin/env bash
# Runs each cargo-fuzz target of fuzz/ for a bounded time, one after the other.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain for the sanitizer
# flags; when only stable is installed, RUSTC_BOOTSTRAP=1 lets stable accept them. Corpora and
# crash artifacts stay under fuzz/ (ignored by git). Exits non-zero when a target finds a crash.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi

for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    mkdir -p "corpus/$target"
    # Seeds, so that mutations start from inputs that parse: the demo's nodes for node_status.
    if [ "$target" = node_status ] && [ -z "$(ls -A "corpus/$target")" ]; then
        python3 - "corpus/$target" <<'PY'
import json, sys
for i, node in enumerate(json.load(open("../examples/demo-nodes.json"))["items"]):
    node["status"]["images"] = node["status"]["images"][:3]
    open(f"{sys.argv[1]}/seed-{i}", "w").write(json.dumps(node, separators=(",", ":")))
PY
    fi
    cargo "${toolchain[@]}" fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
done
