#!/bin/sh
# Checks the systemd units with `systemd-analyze verify` (run by `make test` through
# OpsIntegrationTests, or by hand: AGENCYBUS_BIN=.build/debug sh deploy/verify-units.sh).
# The units name /usr/local/bin/bus-broker and bus-cli; verify insists that ExecStart
# binaries exist, so a copy of each unit pointing at $AGENCYBUS_BIN is checked instead.
# Exit 0 = clean, 1 = a unit has a problem, 77 = cannot check here (no systemd-analyze).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
analyze=${SYSTEMD_ANALYZE:-$(command -v systemd-analyze || true)}
[ -n "$analyze" ] || { echo "systemd-analyze is not installed (apt-get install systemd)"; exit 77; }
bin=${AGENCYBUS_BIN:-$here/../.build/debug}
bin=$(cd "$bin" && pwd)
for tool in bus-broker bus-cli; do
    [ -x "$bin/$tool" ] || { echo "$bin/$tool is missing: build first (make build)"; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in agencybus-broker.service agencybus-node@.service; do
    sed "s#/usr/local/bin/#$bin/#g" "$here/$unit" > "$work/$unit"
done
# A template is verified through an instance.
cp "$work/agencybus-node@.service" "$work/agencybus-node@pemkot-semarang.service"
cd "$work"
out=$("$analyze" verify --man=no ./agencybus-broker.service ./agencybus-node@pemkot-semarang.service 2>&1) || status=$?
status=${status:-0}
# Without systemd as PID 1 verify still checks syntax; it warns about the missing manager.
problems=$(printf '%s\n' "$out" | grep -v -e '^$' -e 'Failed to connect to bus' -e 'System has not been booted with systemd' -e 'Unit .* not found' || true)
if [ "$status" -ne 0 ] || [ -n "$problems" ]; then
    printf 'systemd-analyze verify (exit %s):\n%s\n' "$status" "$out"
    exit 1
fi
echo "units verified: agencybus-broker.service agencybus-node@.service"
