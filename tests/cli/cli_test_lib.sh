# Sourced by the tests that drive the `whycache` binary from a shell: running it, checking its
# exit status and output, and the change log each scenario runs against (a file log, or a
# MySQL log on a MariaDB server this test starts, or the one MDB_HOST names).
#
#   source "$(dirname "$0")/cli_test_lib.sh"
#   cli_test_begin "$1"        # the whycache binary; makes $WORK, a fresh directory
#   use_backend "$2"           # file or mysql: then `new_log NAME` prints a fresh log's URI
#   expect_status 0 --log "$(new_log a)" init
# or, for a test of one dataset on a backend, `dataset_test_begin "$1" "$2"` (see below).
#   cli_test_end               # prints the summary and exits 1 if any check failed
#
# After expect_status, $WORK/out and $WORK/err hold the command's stdout and stderr.

WHYCACHE=""
WORK=""
FAILURES=0
BACKEND=""
# Where expect_status reads stdin from.
CLI_STDIN=/dev/null
# The server this test started, to stop at exit; empty for none or an external one.
MDB_DIR=""

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

cli_cleanup() {
  if [[ -n $MDB_DIR ]]; then
    bash "$(mariadb_script)" stop "$MDB_DIR" >/dev/null 2>&1
    rm -rf "$MDB_DIR"
  fi
  [[ -n $WORK ]] && rm -rf "$WORK"
}

cli_test_begin() {
  WHYCACHE=$1
  [[ -x $WHYCACHE ]] || { echo "usage: $0 PATH-TO-WHYCACHE [file|mysql]" >&2; exit 2; }
  WORK=$(mktemp -d "${TEST_TMPDIR:-/tmp}/whycache-cli-XXXXXX")
  trap cli_cleanup EXIT
  # Each test names its dataset explicitly; an operator's settings must not leak in.
  unset WHYCACHE_LOG WHYCACHE_STATE WHYCACHE_MYSQL_PASSWORD
}

cli_test_end() {
  if ((FAILURES > 0)); then
    echo "$FAILURES check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
  exit 0
}

# expect_status CODE ARGS...: runs whycache with ARGS (stdin from $CLI_STDIN), stdout to
# $WORK/out and stderr to $WORK/err, and checks the exit status.
expect_status() {
  local want=$1
  shift
  "$WHYCACHE" "$@" <"$CLI_STDIN" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  if [[ $got != "$want" ]]; then
    fail "whycache $* exited $got, expected $want; stdout: [$(head -c 2000 "$WORK/out")]" \
      "stderr: [$(head -c 2000 "$WORK/err")]"
  fi
}

# expect_out TEXT: stdout is exactly TEXT (plus the newline that $(...) strips).
expect_out() {
  local got
  got=$(cat "$WORK/out")
  [[ $got == "$1" ]] || fail "expected stdout [$1], got [$got] (stderr: $(cat "$WORK/err"))"
}

# expect_mentions out|err TEXT: stdout or stderr contains TEXT, taken literally.
expect_mentions() {
  grep -q -F -- "$2" "$WORK/$1" ||
    fail "expected std$1 to mention [$2], got [$(head -c 2000 "$WORK/$1")]"
}

expect_no_mention() {
  ! grep -q -F -- "$2" "$WORK/$1" || fail "std$1 should not mention [$2]: [$(cat "$WORK/$1")]"
}

# expect_one_line_err: a failure says what it has to say in one line on stderr.
expect_one_line_err() {
  local lines
  lines=$(wc -l <"$WORK/err")
  [[ $lines == 1 ]] || fail "expected one line on stderr, got $lines: [$(cat "$WORK/err")]"
}

# json_field NAME: the number that the JSON object on stdout has for NAME, or nothing.
json_field() {
  grep -o "\"$1\":[0-9]*" "$WORK/out" | head -1 | cut -d: -f2
}

# --- the change log --------------------------------------------------------------------------

mariadb_script() {
  local in_runfiles="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/bazel/mariadb-test-server.sh"
  if [[ -f $in_runfiles ]]; then
    echo "$in_runfiles"
  else
    echo "$(dirname "${BASH_SOURCE[0]}")/../../bazel/mariadb-test-server.sh"
  fi
}

# Starts a throwaway MariaDB (or takes the one MDB_HOST names) and exports MDB_* and
# WHYCACHE_MYSQL_PASSWORD. A test that needs the server and cannot get one fails.
start_mariadb() {
  if [[ -z ${MDB_HOST:-} ]]; then
    # The server's socket lives in this directory, and AF_UNIX paths are short: stay in /tmp.
    MDB_DIR=$(mktemp -d /tmp/whycache-mdb-XXXXXX)
    local settings
    # A random first port, so that tests starting servers at once rarely try the same one.
    if ! settings=$(MDB_OWNER_PID=$$ MDB_PORT=$((20000 + RANDOM % 30000)) \
      bash "$(mariadb_script)" start "$MDB_DIR"); then
      echo "FAIL: cannot start a MariaDB server for this test (see the messages above)" >&2
      exit 1
    fi
    eval "$(grep -E '^MDB_[A-Z]+=' <<<"$settings" | sed 's/^/export /')"
  fi
  : "${MDB_PORT:=3306}" "${MDB_USER:?}" "${MDB_DB:?}"
  export WHYCACHE_MYSQL_PASSWORD=${MDB_PASS:-}
}

# use_backend file|mysql: what new_log makes.
use_backend() {
  BACKEND=$1
  case $BACKEND in
    file) ;;
    mysql) start_mariadb ;;
    *) echo "unknown backend '$BACKEND': use file or mysql" >&2; exit 2 ;;
  esac
}

# dataset_test_begin WHYCACHE BACKEND: cli_test_begin and use_backend, then WHYCACHE_LOG names
# a new log of BACKEND (not initialized) and WHYCACHE_STATE a state file in $WORK.
dataset_test_begin() {
  cli_test_begin "$1"
  use_backend "$2"
  WHYCACHE_LOG=$(new_log main)
  export WHYCACHE_LOG WHYCACHE_STATE="$WORK/a.state"
}

# new_log NAME: the URI of a log of its own for NAME (not initialized). MySQL tables get a
# suffix unique to this run, so that runs against a shared server do not meet.
new_log() {
  case $BACKEND in
    file) echo "file:$WORK/$1.log" ;;
    mysql) echo "mysql://$MDB_USER@$MDB_HOST:$MDB_PORT/$MDB_DB?table=${1}_$$_${RUN_SUFFIX}" ;;
  esac
}
RUN_SUFFIX=$RANDOM

# --- expected output -------------------------------------------------------------------------

# escaped FILE: FILE's bytes as scan, get and tail print them (CLI contract): printable ASCII
# as is except backslash; every other byte, tab and newline included, as \xNN.
escaped() {
  local b hex ch out=""
  for b in $(od -An -v -tu1 "$1"); do
    printf -v hex %02x "$b"
    if ((b >= 32 && b <= 126 && b != 92)); then
      printf -v ch "\\x$hex"
      out+=$ch
    else
      out+="\\x$hex"
    fi
  done
  printf '%s' "$out"
}

# flip_byte FILE OFFSET: inverts every bit of the byte at OFFSET, so that the file is damaged
# whatever that byte held (writing a fixed byte leaves it intact where it already held that one).
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  [[ -n $b ]] || fail "flip_byte: $1 has no byte at offset $2"
  printf -v b '\\x%02x' $((b ^ 0xff))
  printf "$b" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
