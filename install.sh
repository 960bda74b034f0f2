#!/usr/bin/env bash
# Installs mvtap and mvtapd: publishes both into /opt/mvtap, puts wrappers on PATH, creates the
# `mvtap` group for the control socket and installs the systemd unit (not enabled). The CNI
# plugin is published too (NativeAOT: needs clang and zlib1g-dev) and installed as
# ${CNI_BIN_DIR:-/opt/cni/bin}/mvtap.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${PREFIX:-/opt/mvtap}"
dotnet publish "$root/src/Mvtap.Cli/Mvtap.Cli.csproj" -c Release -o "$prefix" -nologo
dotnet publish "$root/src/Mvtap.Daemon/Mvtap.Daemon.csproj" -c Release -o "$prefix" -nologo
dotnet publish "$root/src/Mvtap.Cni/Mvtap.Cni.csproj" -c Release -r linux-x64 -o "$prefix/cni" -nologo
cp "$prefix/cni/mvtap-cni" "$prefix/mvtap-cni"
cp "$root/README.md" "$prefix/"
for tool in mvtap mvtapd; do
  printf '#!/bin/sh\nexec dotnet %s/%s.dll "$@"\n' "$prefix" "$tool" > "/usr/local/bin/$tool"
  chmod 755 "/usr/local/bin/$tool"
done
/usr/local/bin/mvtap cni install "${CNI_BIN_DIR:-/opt/cni/bin}"
getent group mvtap >/dev/null || groupadd --system mvtap
if [ -d /etc/systemd/system ]; then
  install -m 644 "$root/dist/systemd/mvtapd.service" /etc/systemd/system/mvtapd.service
  command -v systemctl >/dev/null && systemctl daemon-reload || true
  echo "installed; start with: systemctl enable --now mvtapd"
fi
