#!/usr/bin/env bash
# Installs mvtap and mvtapd: publishes both into /opt/mvtap, puts wrappers on PATH, creates the
# `mvtap` group for the control socket and installs the systemd unit (not enabled).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${PREFIX:-/opt/mvtap}"
dotnet publish "$root/src/Mvtap.Cli/Mvtap.Cli.csproj" -c Release -o "$prefix" -nologo
dotnet publish "$root/src/Mvtap.Daemon/Mvtap.Daemon.csproj" -c Release -o "$prefix" -nologo
cp "$root/README.md" "$prefix/"
for tool in mvtap mvtapd; do
  printf '#!/bin/sh\nexec dotnet %s/%s.dll "$@"\n' "$prefix" "$tool" > "/usr/local/bin/$tool"
  chmod 755 "/usr/local/bin/$tool"
done
getent group mvtap >/dev/null || groupadd --system mvtap
if [ -d /etc/systemd/system ]; then
  install -m 644 "$root/dist/systemd/mvtapd.service" /etc/systemd/system/mvtapd.service
  command -v systemctl >/dev/null && systemctl daemon-reload || true
  echo "installed; start with: systemctl enable --now mvtapd"
fi
