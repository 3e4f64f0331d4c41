#!/usr/bin/env bash
# Start the local PostgreSQL cluster for the test suite if it is installed but not running.
set -u
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
        sleep 1
    done
fi
echo "PostgreSQL is not reachable at 127.0.0.1:5432; its tests will be skipped (and fail in CI)" >&2
exit 0
