#!/usr/bin/env bash
# Smoke run of every fuzz target (docs/RELIABILITY.md, "Fuzzing"): installs cargo-fuzz
# if it is missing, builds the targets once, runs each for a bounded time from its
# committed corpus (fuzz/corpus/<target>/), prints the executions per target, and
# fails if any target crashes, panics, aborts or times out.
#
#   fuzz/run-smoke.sh                      # 15 s per target
#   FUZZ_SMOKE_SECONDS=60 fuzz/run-smoke.sh
#
# Runs on stable Rust: the targets are built without a sanitizer (`-s none`); libFuzzer's
# coverage guidance needs only stable codegen flags. New inputs go to a temporary
# directory, so the committed corpus is left as it is; a crash is saved under
# fuzz/artifacts/<target>/ and printed in base64 by libFuzzer.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SMOKE_SECONDS:-15}"
cargo_fuzz_version="0.13.2"

started=$(date +%s)
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz smoke: installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked --quiet
fi

# The fuzz package keeps its own Cargo.lock; refuse to run on a stale one rather than
# let cargo fuzz rewrite it.
if ! cargo metadata --locked --format-version 1 >/dev/null; then
  echo "fuzz smoke: fuzz/Cargo.lock is out of date; run 'cargo update --workspace' in fuzz/ and commit it" >&2
  exit 1
fi

cargo fuzz build -s none
built=$(date +%s)
echo "fuzz smoke: built in $((built - started)) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
summary=()
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target"
  log="$scratch/$target.log"
  # -timeout: one input taking over 10 s is a hang. -rss_limit_mb: the process must
  # stay small (the targets' allocator also refuses any single allocation over
  # 64 MiB, fuzz/src/lib.rs).
  if cargo fuzz run -s none "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$target")
    tail -n 60 "$log"
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  found=$(find "$scratch/$target" -type f | wc -l)
  line=$(printf '%-18s %-6s %10s execs in %s s, %s new inputs' \
    "$target" "$status" "${execs:-?}" "$seconds" "$found")
  summary+=("$line")
  echo "fuzz smoke: $line"
done

echo "fuzz smoke: $(( $(date +%s) - started )) s in all"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz smoke: crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
