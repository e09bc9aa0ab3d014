# What the CLI test scripts share (sourced after bin, data, model and work
# are set): counters, ok/bad, run (the binary on the test model; exit status
# in rc, stdout in $work/out or outlog, stderr in $work/err), expect (exit
# status and a stderr substring) and check (a shell condition).
passed=0 failed=0
ok() { passed=$((passed+1)); echo "ok   $1"; }
bad() { failed=$((failed+1)); echo "FAIL $1"; sed 's/^/    /' "$work/err" | head -20; }
run() { "$bin" -m "$model" -t 2 "$@" >"$work/${run_stdout:-out}" 2>"$work/err"; rc=$?; }
expect() { # name, exit status, stderr substring
  if [ "$rc" -eq "$2" ] && grep -qF -- "$3" "$work/err"; then ok "$1"; else echo "  exit $rc (want $2), want '$3'"; bad "$1"; fi
}
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
