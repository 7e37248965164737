#!/usr/bin/env bash
# Installs the Debian packages whycache builds, tests and benchmarks with, on a brand-new
# Debian 12 machine. Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  bazel-bootstrap bazel-rules-java bazel-platforms
  g++ python3 clang-format
  libboost-dev libzstd-dev libmysqlcppconn-dev
  libgtest-dev libbenchmark-dev liblmdb-dev
  mariadb-server-core mariadb-client-core
  pybind11-dev python3-dev python3-pytest python3-lmdb
  gnuplot-nox prometheus-cpp-dev prometheus curl
)

missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == 'install ok installed' ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "whycache setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
