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
#
# Replication: MDB_ROLE=primary or MDB_ROLE=replica makes `start` start one member of a
# replication set; without MDB_ROLE the server is a plain one, as above. Both roles need a
# MDB_SERVER_ID unique within the set and get a user for readers with SELECT on MDB_DB and
# nothing else (MDB_READER_USER, MDB_READER_PASS; default whycache_reader), printed with the
# other settings.
#   primary  binary log on (GTIDs, as MariaDB always writes them), ROW format, sync_binlog=1 and
#            innodb_flush_log_at_trx_commit=1; creates the replication user MDB_REPL_USER /
#            MDB_REPL_PASS (REPLICATION SLAVE; default whycache_repl).
#   replica  read-only, relay log in its own data directory; replicates from the primary on
#            127.0.0.1:MDB_PRIMARY_PORT as MDB_REPL_USER with MASTER_USE_GTID=slave_pos,
#            retrying a lost primary every second.
#            MDB_PARALLEL_THREADS=N (default 0: one applier thread) and MDB_PARALLEL_MODE
#            (conservative, optimistic, aggressive, minimal or none; default conservative) set
#            slave_parallel_threads and slave_parallel_mode. Every start, also a restart with
#            MDB_KEEP_DATA=1, ends with START SLAVE, so a replica killed while stopped replicates
#            again once it is started.
# For example: MDB_ROLE=primary MDB_SERVER_ID=1 mariadb-test-server.sh start P, then
# MDB_ROLE=replica MDB_SERVER_ID=2 MDB_PRIMARY_PORT=<P's port> mariadb-test-server.sh start R.
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
role=${MDB_ROLE:-}
fresh_data=0  # Set by start when it installs a new data directory.
reader_user=${MDB_READER_USER:-whycache_reader}
reader_pass=${MDB_READER_PASS:-whycache-reader-pw}
repl_user=${MDB_REPL_USER:-whycache_repl}
repl_pass=${MDB_REPL_PASS:-whycache-repl-pw}

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

# The mariadbd options of the server's replication role (none for a plain server).
role_options() {
  case $role in
    "") ;;
    primary)
      echo "--server-id=$MDB_SERVER_ID --log-bin=$data/primary-bin --binlog-format=ROW" \
        "--sync-binlog=1 --innodb-flush-log-at-trx-commit=1"
      ;;
    replica)
      # --skip-slave-start: start_server starts replication itself, on a fresh start only after
      # CHANGE MASTER. A short net timeout and connect retry: a replica notices a restarted
      # primary in seconds, not the default minute.
      echo "--server-id=$MDB_SERVER_ID --read-only --relay-log=$data/relay-bin" \
        "--skip-slave-start --slave-net-timeout=10" \
        "--slave-parallel-threads=${MDB_PARALLEL_THREADS:-0}" \
        "--slave-parallel-mode=${MDB_PARALLEL_MODE:-conservative}"
      ;;
  esac
}

check_role() {
  case $role in
    "") return ;;
    primary | replica) ;;
    *) say "MDB_ROLE must be primary or replica, not '$role'"; exit 2 ;;
  esac
  [[ ${MDB_SERVER_ID:-} =~ ^[1-9][0-9]*$ ]] || { say "MDB_ROLE=$role needs MDB_SERVER_ID"; exit 2; }
  [[ $role == primary ]] && return
  [[ ${MDB_PRIMARY_PORT:-} =~ ^[1-9][0-9]*$ ]] || { say "a replica needs MDB_PRIMARY_PORT"; exit 2; }
  [[ ${MDB_PARALLEL_THREADS:-0} =~ ^[0-9]+$ ]] || { say "MDB_PARALLEL_THREADS is a count"; exit 2; }
  case ${MDB_PARALLEL_MODE:-conservative} in
    conservative | optimistic | aggressive | minimal | none) ;;
    *) say "MDB_PARALLEL_MODE '$MDB_PARALLEL_MODE' is not a slave_parallel_mode"; exit 2 ;;
  esac
}

start() {
  check_role
  mkdir -p "$dir"
  stop
  if [[ ${MDB_KEEP_DATA:-0} == 1 && -d $data/mysql ]]; then
    start_server
    return
  fi
  rm -rf "$data"
  fresh_data=1
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
      --innodb-flush-log-at-trx-commit=1 $(role_options) ${MDB_EXTRA_OPTIONS:-} \
      </dev/null >>"$dir/stdout.log" 2>&1 &
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
  if [[ -n $role ]]; then setup_replication; fi
  cat <<EOF2
MDB_HOST=127.0.0.1
MDB_PORT=$port
MDB_SOCKET=$sock
MDB_USER=$user
MDB_PASS=$pass
MDB_DB=$db
MDB_PID=$pid
EOF2
  if [[ -n $role ]]; then
    printf 'MDB_ROLE=%s\nMDB_SERVER_ID=%s\nMDB_READER_USER=%s\nMDB_READER_PASS=%s\n' \
      "$role" "$MDB_SERVER_ID" "$reader_user" "$reader_pass"
  fi
  if [[ $role == primary ]]; then
    printf 'MDB_REPL_USER=%s\nMDB_REPL_PASS=%s\n' "$repl_user" "$repl_pass"
  fi
}

# Users of a replication set. On the primary they go to the binary log and so reach the
# replicas too; a replica creates its reader itself so that it serves readers before it has
# caught up. IF NOT EXISTS keeps the replicated statements from failing on a replica that has them.
setup_replication() {
  local u
  for u in "'$reader_user'@'127.0.0.1'" "'$reader_user'@'localhost'"; do
    root_sql -e "CREATE USER IF NOT EXISTS $u IDENTIFIED BY '$reader_pass';
      GRANT SELECT ON \`$db\`.* TO $u;"
  done
  if [[ $role == primary ]]; then
    root_sql -e "CREATE USER IF NOT EXISTS '$repl_user'@'127.0.0.1' IDENTIFIED BY '$repl_pass';
      GRANT REPLICATION SLAVE ON *.* TO '$repl_user'@'127.0.0.1';"
    return
  fi
  # A restart keeps the replication settings of the data directory, and its position in
  # mysql.gtid_slave_pos.
  if [[ $fresh_data == 1 ]]; then
    root_sql -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$MDB_PRIMARY_PORT,
      MASTER_USER='$repl_user', MASTER_PASSWORD='$repl_pass', MASTER_USE_GTID=slave_pos,
      MASTER_CONNECT_RETRY=1;"
  fi
  root_sql -e "START SLAVE;"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  kill) kill_now ;;
  *) echo "usage: $0 start|stop|kill DIR" >&2; exit 2 ;;
esac
