#!/usr/bin/env bash
# Plants known bugs, one at a time, in a scratch copy of this tree and checks
# that the suite catches each: every tests/mutants/*.patch names the targets
# to build and the test to run. First each mutant's test runs on the real
# code (it must pass), then with the patch applied (it must fail: "killed").
# Ends with a table; exits 1 if any mutant survived or a test failed on the
# real code. Builds with ccache in SCRATCH/src/build (about 20 minutes on 2
# cores, most of it the first build); not part of CI.
#
#   scripts/mutants.sh [--scratch DIR] [MUTANT...]    # e.g. 2-token-prefix-accepted
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=${TMPDIR:-/tmp}/asr-mutants
only=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --scratch) scratch=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) only+=("${1%.patch}"); shift ;;
  esac
done
log() { echo "mutants: $*" >&2; }
field() { sed -n "s/^# $2: //p" "$1" | head -1; }  # field PATCH Targets|Test

patches=()
for p in tests/mutants/*.patch; do
  name=$(basename "$p" .patch)
  if [[ ${#only[@]} -gt 0 ]] && ! printf '%s\n' "${only[@]}" | grep -qx "$name"; then continue; fi
  patches+=("$p")
done
[[ ${#patches[@]} -gt 0 ]] || { log "no mutants match: ${only[*]}"; exit 2; }

# The working tree as it is (tracked and untracked, not ignored), at the same
# relative paths, so ccache (CCACHE_BASEDIR, see CMakeLists.txt) hits. An
# earlier run's build folder is kept: files that changed since are copied
# with a fresh time (so they, and only they, rebuild, even where a mutant
# was compiled last), files that are gone are removed.
src=$scratch/src stage=$scratch/stage
rm -rf "$stage" && mkdir -p "$stage" "$src"
git ls-files -co --exclude-standard -z | tar --null -cf - -T - 2>/dev/null | tar -xf - -C "$stage"
(cd "$stage" && find . -type f) | while read -r f; do
  cmp -s "$stage/$f" "$src/$f" || { mkdir -p "$(dirname "$src/$f")" && cp "$stage/$f" "$src/$f"; }
done
(cd "$src" && find . -path ./build -prune -o -type f -print) | while read -r f; do
  [[ -e $stage/$f ]] || rm -f "$src/$f"
done
mkdir -p "$scratch/logs"
cmake -S "$src" --preset default -DASR_BUILD_BENCHMARKS=OFF >"$scratch/logs/configure.log" 2>&1 ||
  { log "configure failed: $scratch/logs/configure.log"; exit 1; }

# Builds the patch's targets and runs its test in the scratch tree; returns
# the test's exit status (125 if the build failed).
run_one() {
  local patch=$1 logfile=$2 test
  read -r -a targets <<<"$(field "$patch" Targets)"
  read -r -a test <<<"$(field "$patch" Test)"
  cmake --build "$src/build" --target "${targets[@]}" >"$logfile" 2>&1 || return 125
  (cd "$src/build" && timeout 1200 "bin/${test[0]}" "${test[@]:1}") >>"$logfile" 2>&1
}

declare -A real mutated
started=$(date +%s)
for p in "${patches[@]}"; do
  name=$(basename "$p" .patch)
  log "$name: on the real code"
  run_one "$p" "$scratch/logs/$name.real.log"; real[$name]=$?
  log "$name: mutated"
  if ! git -C "$src" apply "$root/$p" 2>"$scratch/logs/$name.apply.log"; then
    mutated[$name]=apply
    continue
  fi
  run_one "$p" "$scratch/logs/$name.mutant.log"; mutated[$name]=$?
  git -C "$src" apply -R "$root/$p"
done

failed=0
printf '\n%-40s %-12s %-10s %s\n' mutant "real code" mutant test
for p in "${patches[@]}"; do
  name=$(basename "$p" .patch)
  r=${real[$name]} m=${mutated[$name]}
  real_word=passes; [[ $r == 0 ]] || { real_word="FAILS($r)"; failed=1; }
  case $m in
    0) mutant_word=SURVIVED; failed=1 ;;
    125) mutant_word="no build"; failed=1 ;;
    apply) mutant_word="no apply"; failed=1 ;;
    *) mutant_word=killed ;;
  esac
  printf '%-40s %-12s %-10s %s\n' "$name" "$real_word" "$mutant_word" "$(field "$p" Test)"
done
echo "logs: $scratch/logs; $(( $(date +%s) - started )) s after configuring"
exit $failed
