#!/usr/bin/env bash
# Install (if missing) and start a local PostgreSQL, create the konbini test role and database,
# and export KONBINI_TEST_POSTGRES_DSN through .ci/env for the webhook store tests.
# Runs as root on a fresh Debian machine; idempotent and quick when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/../.."

db=konbini_test
user=konbini
password=konbini_test_pw

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  pg_ctlcluster "$version" main start
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')

psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
for _ in $(seq 1 30); do
  psql_admin -c 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.5
done
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
  psql_admin -c "CREATE ROLE $user LOGIN PASSWORD '$password'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE $db OWNER $user"
fi

touch .ci/env
sed -i '/^KONBINI_TEST_POSTGRES_DSN=/d' .ci/env
echo "KONBINI_TEST_POSTGRES_DSN=postgresql://$user:$password@127.0.0.1:$port/$db" >> .ci/env
