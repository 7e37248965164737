#!/usr/bin/env bash
# Starts or stops a throwaway MariaDB server for tests, without systemd.
#
#   mariadb-test-server.sh start DIR   start a fresh server whose files live in DIR; prints the
#                                      connection settings as MDB_*=VALUE lines on stdout
#   mariadb-test-server.sh stop DIR    stop the server started in DIR (SIGTERM, then SIGKILL)
#   mariadb-test-server.sh kill DIR    kill it with SIGKILL, as a crash would
#
# DIR must be short: the server's socket lives in it and AF_UNIX paths end at 107 bytes.
# Settings: MDB_PORT (first port to try, default 33306), MDB_DB, MDB_USER, MDB_PASS;
# MDB_EXTRA_OPTIONS="--opt=value ..." adds mariadbd options after the script's own (so they
# override them); MDB_KEEP_DATA=1 restarts on the existing data directory (after stop or kill);
# MDB_OWNER_PID=PID stops the server once that process is gone, so a crashed test leaves
# no server behind.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

db=${MDB_DB:-whycache_test}
user=${MDB_USER:-whycache}
pass=${MDB_PASS:-whycache-test-pw}
data=$dir/data
sock=$dir/mysqld.sock
pidfile=$dir/mysqld.pid
errlog=$dir/error.log

say() { echo "mariadb-test-server: $*" >&2; }

# A pid is alive when it exists and is not a zombie: an orphaned server is reaped by PID 1,
# which here may take a second or so.
alive() {
  local state
  state=$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null) && [[ -n $state && $state != Z ]]
}

# The pid in the pid file, if it still names a running mariadbd (pids get recycled).
server_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == mariadbd ]] && echo "$pid"
}

root_sql() { mariadb --no-defaults --socket="$sock" -uroot "$@"; }

stop() {
  local pid
  if pid=$(server_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then say "SIGTERM timed out after 30 s, killing $pid"; kill -KILL "$pid" || true; fi
  fi
  rm -f "$pidfile" "$sock" "$sock.lock"
}

kill_now() {
  local pid
  if pid=$(server_pid); then
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do alive "$pid" || break; sleep 0.05; done
  fi
}

# Stops the server when the owner process is gone; ends by itself once the server is gone.
watch_owner() {
  local owner=$1 server=$2
  while alive "$owner" && alive "$server"; do sleep 0.5; done
  alive "$server" && stop
}

start() {
  mkdir -p "$dir"
  stop
  if [[ ${MDB_KEEP_DATA:-0} == 1 && -d $data/mysql ]]; then
    start_server
    return
  fi
  rm -rf "$data"
  # --no-defaults must come first, or /etc/mysql (port 3306, /run/mysqld) is read.
  # --tmpdir: MariaDB names temporary files after thread and process ids, which repeat across
  # test sandboxes, so servers installed at once in a shared /tmp would collide.
  if ! mariadb-install-db --no-defaults --user=root --datadir="$data" --tmpdir="$dir" \
      --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1; then
    say "mariadb-install-db failed:"; tail -20 "$dir/install.log" >&2; exit 1
  fi
  start_server
}

start_server() {
  # Probing a port and then binding it races with other runs on the machine, so a bind failure
  # moves on to the next port instead.
  local port=${MDB_PORT:-33306} pid=""
  for _ in $(seq 1 30); do
    : >"$errlog"
    setsid mariadbd --no-defaults --user=root --datadir="$data" --tmpdir="$dir" --socket="$sock" \
      --port="$port" --bind-address=127.0.0.1 --pid-file="$pidfile" --log-error="$errlog" \
      --skip-name-resolve --innodb-buffer-pool-size=256M --max-allowed-packet=256M \
      --innodb-flush-log-at-trx-commit=1 ${MDB_EXTRA_OPTIONS:-} </dev/null >>"$dir/stdout.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 1200); do
      root_sql -e 'SELECT 1' >/dev/null 2>&1 && break 2
      alive "$pid" || break
      sleep 0.05
    done
    if alive "$pid"; then say "not ready after 60 s:"; tail -30 "$errlog" >&2; exit 1; fi
    if grep -q 'Address already in use' "$errlog"; then port=$((port + 1)); continue; fi
    say "mariadbd exited:"; tail -30 "$errlog" >&2; exit 1
  done
  root_sql -e 'SELECT 1' >/dev/null 2>&1 || { say "no free port found"; exit 1; }
  # The watcher starts before anything else can fail: an owner that dies while this script
  # still sets the server up (its stdout pipe then breaks) leaves no server behind either.
  if [[ -n ${MDB_OWNER_PID:-} ]]; then
    (setsid bash -c "$(declare -f alive server_pid stop watch_owner); \
      dir='$dir' pidfile='$pidfile' sock='$sock'; say() { :; }; watch_owner $MDB_OWNER_PID $pid" \
      </dev/null >/dev/null 2>&1 &)
  fi
  root_sql <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\`;
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';
SQL
  cat <<EOF2
MDB_HOST=127.0.0.1
MDB_PORT=$port
MDB_SOCKET=$sock
MDB_USER=$user
MDB_PASS=$pass
MDB_DB=$db
MDB_PID=$pid
EOF2
}

case $cmd in
  start) start ;;
  stop) stop ;;
  kill) kill_now ;;
  *) echo "usage: $0 start|stop|kill DIR" >&2; exit 2 ;;
esac
