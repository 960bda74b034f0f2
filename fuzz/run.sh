#!/usr/bin/env bash
# Coverage-guided fuzzing of mvtap's decoders of outside input (SharpFuzz + AFL++).
#   fuzz/run.sh --list               the targets, one a line
#   fuzz/run.sh TARGET SECONDS       build, instrument, run afl-fuzz on TARGET with fuzz/corpus/TARGET
#   fuzz/run.sh --keep TARGET [N]    add up to N (default 30) minimised inputs of TARGET's last run
#                                    that reach new branches to fuzz/corpus/TARGET (afl-cmin)
#   fuzz/run.sh --stats TARGET       one FUZZING.md table row from TARGET's last run's fuzzer_stats
# Work files (build, the SharpFuzz tool, findings) go to $MVTAP_FUZZ_WORK, default fuzz/.work
# (ignored by git). Set MVTAP_FUZZ_EXECS to stop a run after that many executions as well, and
# MVTAP_FUZZ_PREBUILT=1 to reuse the last build (runs of several targets back to back).
# The fuzzer runs under nice -n 10: the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${MVTAP_FUZZ_WORK:-$here/.work}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1

build() {
  [ "${MVTAP_FUZZ_PREBUILT:-}" = 1 ] && [ -f "$work/build/Mvtap.Fuzz.dll" ] && return
  mkdir -p "$work"
  dotnet build "$here/Mvtap.Fuzz" -c Release -nologo -v q -o "$work/build" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
}

harness() { dotnet "$work/build/Mvtap.Fuzz.dll" "$@"; }

# a fresh copy of the build with TARGET's assemblies instrumented (the tool rewrites them in place)
instrumented() {
  local target="$1" dir="$work/run/$1"
  if [ ! -x "$work/tools/sharpfuzz" ]; then
    dotnet tool install --tool-path "$work/tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  cp -r "$work/build/." "$dir/"
  for a in $(harness --instrument "$target"); do "$work/tools/sharpfuzz" "$dir/$a" >/dev/null; done
  echo "$dir"
}

last_run() { ls -d "$work/findings/$1"-* 2>/dev/null | sort | tail -1; }

case "${1:-}" in
  --stats)
    target="$2"
    stats="$(last_run "$target")/default/fuzzer_stats"
    [ -f "$stats" ] || { echo "no run of $target under $work/findings" >&2; exit 1; }
    v() { sed -n "s/^$1 *: //p" "$stats"; }
    echo "| $target | $(v run_time) s | $(v execs_done) | $(v execs_per_sec) | $(v edges_found) ($(v bitmap_cvg)) | $(v corpus_count) | $(v saved_crashes) | $(v saved_hangs) | $(v stability) |"
    ;;
  --list)
    build
    harness --list
    ;;
  --keep)
    target="$2" keep="${3:-30}"
    last="$(last_run "$target")"
    [ -n "$last" ] || { echo "no run of $target under $work/findings" >&2; exit 1; }
    dir="$work/run/$target" min="$work/cmin/$target"
    rm -rf "$min"
    mkdir -p "$(dirname "$min")"
    AFL_PATH=/usr/lib/afl nice -n 10 afl-cmin -i "$last/default/queue" -o "$min" -t 5000 -m none -- "$(command -v dotnet)" "$dir/Mvtap.Fuzz.dll" "$target" >/dev/null
    added=0
    for f in $(ls -S -r "$min"); do
      [ "$added" -lt "$keep" ] || break
      name="q-$(sha1sum "$min/$f" | cut -c1-12)"
      [ -e "$here/corpus/$target/$name" ] && continue
      # a seed or an earlier find that cmin kept is in the corpus already
      same=0
      for c in "$here/corpus/$target"/*; do cmp -s "$min/$f" "$c" && { same=1; break; }; done
      [ "$same" = 1 ] && continue
      cp "$min/$f" "$here/corpus/$target/$name"
      added=$((added + 1))
    done
    echo "$target: $added inputs added to fuzz/corpus/$target"
    ;;
  ""|-*)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
  *)
    target="$1" seconds="${2:?SECONDS}"
    build
    harness --list | grep -qx "$target" || { echo "no target $target (fuzz/run.sh --list)" >&2; exit 2; }
    dir="$(instrumented "$target")"
    out="$work/findings/$target-$(date +%Y%m%d-%H%M%S)"
    mkdir -p "$out"
    execs=()
    [ -n "${MVTAP_FUZZ_EXECS:-}" ] && execs=(-E "$MVTAP_FUZZ_EXECS")
    echo "fuzzing $target for $seconds s; findings in $out"
    nice -n 10 afl-fuzz -i "$here/corpus/$target" -o "$out" -t 5000 -m none -V "$seconds" "${execs[@]}" \
      -- dotnet "$dir/Mvtap.Fuzz.dll" "$target" >"$out/afl.log" 2>&1 || { tail -30 "$out/afl.log" >&2; exit 1; }
    grep -E '^(run_time|execs_done|execs_per_sec|bitmap_cvg|edges_found|total_edges|saved_crashes|saved_hangs|corpus_count) ' "$out/default/fuzzer_stats"
    ls "$out/default/crashes" 2>/dev/null | grep -v README || true
    ;;
esac
