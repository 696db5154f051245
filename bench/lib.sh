# Shared by the benchmarks (sourced): timings, medians and ratios, where a
# run that failed stays a failure and is never printed as a number.

now() { date +%s.%N; }

# time_of CMD...: the seconds CMD took, or failed:STATUS if it failed (its
# error output then goes to stderr). It never fails itself: one peer
# that fails does not end the benchmark. It syncs first, so that writing
# out what ran before does not count.
time_of() {
  local t0 t1 err rc=0
  sync
  t0=$(now)
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  t1=$(now)
  if [ "$rc" != 0 ]; then
    echo "# failed (exit $rc): $*: $err" >&2
    echo "failed:$rc"
    return
  fi
  echo "$t1 - $t0" | bc
}

# median: the median of the times on stdin, one a line, or the first
# failure among them: a peer that failed once is not measured.
median() {
  local in
  in=$(cat)
  grep -m1 '^failed:' <<<"$in" && return
  sort -n <<<"$in" | awk '{a[NR]=$1} END{printf "%.4f", a[int((NR+1)/2)]}'
}

# failed T: T as "failed (exit N)" if it is a failure.
failed() { case $1 in failed:*) echo "failed (exit ${1#failed:})" ;; *) return 1 ;; esac; }

# seconds T and ms T: a time for people, or the failure.
seconds() { failed "$1" || awk -v s="$1" 'BEGIN{printf "%.3f s", s}'; }
ms() { failed "$1" || awk -v s="$1" 'BEGIN{printf "%.1f ms", s*1000}'; }

# ratio_of A B: A/B as "1.23x", or "-" if either failed.
ratio_of() {
  if failed "$1" >/dev/null || failed "$2" >/dev/null; then
    echo "-"
    return
  fi
  awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'
}
