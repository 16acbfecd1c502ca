#!/usr/bin/env bash
# Installs what `npm run test:vscode` needs, once (a second run is quick): Debian's chromium and
# ripgrep, and the VS Code server from code-server@4.100.3 in extension/.vscode-test-host (not a
# runtime dependency of the extension). No download outside the npm registry and Debian's packages.
# Steps from shared/vscode-host-tests.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
host="${AIRLOCK_VSCODE_HOST:-$here/../../.vscode-test-host}"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
server="$host/node_modules/code-server/lib/vscode/out/server-main.js"
if [ -f "$host/.ready" ] && [ -f "$server" ]; then exit 0; fi
mkdir -p "$host"
cd "$host"
[ -f package.json ] || echo '{"private":true}' > package.json
npm install --no-audit --no-fund --ignore-scripts code-server@4.100.3 >/dev/null
(cd node_modules/code-server/lib/vscode && npm install --no-audit --no-fund --omit=dev --ignore-scripts >/dev/null)
npm_config_yes=true npm rebuild kerberos node-pty @parcel/watcher @vscode/spdlog native-watchdog @vscode/deviceid >/dev/null
for dir in node_modules/@vscode/ripgrep/bin node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin; do
  mkdir -p "$dir" && ln -sf "$(command -v rg)" "$dir/rg"
done
ln -sfn node_modules node_modules.asar
touch .ready
