#!/bin/sh
# Installs the Debian 12 packages dqbench needs, only those missing (idempotent; run as root).
#   --test-tools  also what only some tests use: chromium (the report's browser test, cli_report_browser)
set -eu
packages="cmake ninja-build g++ libtorch-dev libfaiss-dev libopenblas-dev libbenchmark-dev libsqlite3-dev sqlite3
  libfmt-dev libyaml-cpp-dev catch2 libcli11-dev zlib1g-dev libjpeg-dev libturbojpeg0-dev libpng-dev libssl-dev
  nlohmann-json3-dev dataset-fashion-mnist python3-numpy python3-torch python3-venv"
if [ "${1:-}" = "--test-tools" ]; then packages="$packages chromium"; fi
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
else
  echo "all build dependencies are installed"
fi
