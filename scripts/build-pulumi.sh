#!/usr/bin/env bash
# Builds the Pulumi CLI and dynoform's Node.js language host from Pulumi's Go modules
# at the version of @pulumi/pulumi in package.json, into a machine-wide cache
# (so clean clones on this machine reuse it), then links it into .tools/pulumi/bin.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${PULUMI_VERSION:-$(node -p "require('$root/package.json').devDependencies['@pulumi/pulumi'] || require('$root/package.json').dependencies['@pulumi/pulumi']")}"
version="${version#^}"; version="${version#~}"
cache="${DYNOFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynoform}/pulumi-$version"
dest="$root/.tools/pulumi/bin"
hostsrc_hash="$(cat "$root/tools/pulumi/go.mod" "$root/tools/pulumi/cmd/pulumi-language-nodejs/main.go" | sha256sum | cut -c1-16)"

mkdir -p "$cache" "$dest"
if [ ! -x "$cache/pulumi" ] || [ "$(cat "$cache/.stamp" 2>/dev/null)" != "$hostsrc_hash" ]; then
  command -v go >/dev/null || { echo "setup: the Go toolchain is needed to build the Pulumi CLI (apt-get install golang or see go.dev)"; exit 1; }
  echo "-----> Building the Pulumi CLI v$version from Go modules (first time on this machine: several minutes)"
  cd "$root/tools/pulumi"
  ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version"
  echo "       pulumi"
  go build -trimpath -ldflags "$ldflags" -o "$cache/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  echo "       pulumi-language-nodejs"
  go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$cache/pulumi-language-nodejs" ./cmd/pulumi-language-nodejs
  mv "$cache/pulumi.tmp" "$cache/pulumi"
  echo "$hostsrc_hash" > "$cache/.stamp"
fi
for bin in pulumi pulumi-language-nodejs; do
  ln -sf "$cache/$bin" "$dest/$bin"
done
# The engine runs dynamic providers through this shim (node on @pulumi/pulumi's dynamic-provider
# entry), installed as a plugin in the project's PULUMI_HOME so the engine finds it quietly.
plugin_dir="${PULUMI_HOME:-$root/.tools/pulumi-home}/plugins/resource-pulumi-nodejs-v$version"
mkdir -p "$plugin_dir"
rm -f "$dest/pulumi-resource-pulumi-nodejs"
cat > "$plugin_dir/pulumi-resource-pulumi-nodejs" <<SHIM
#!/bin/sh
exec node "$root/node_modules/@pulumi/pulumi/cmd/dynamic-provider" "\$@"
SHIM
chmod +x "$plugin_dir/pulumi-resource-pulumi-nodejs"
"$dest/pulumi" version
