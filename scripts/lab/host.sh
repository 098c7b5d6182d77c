#!/usr/bin/env bash
# One lab machine's teardown, called by the LabHost provider:
#   host.sh stop DIR [--keep-network]
# SIGTERM its systemd-nspawn (SIGKILL after 15 s), unmount its overlay, remove DIR; then, under
# the network lock, drop the network's bridge and nft table if DIR was its last host.
# Works when the machine already died or was half created.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lab_require_root

[ "${1:-}" = stop ] && [ $# -ge 2 ] || lab_die "usage: host.sh stop DIR [--keep-network]"
dir="${2%/}"
keep_network=0
[ "${3:-}" = --keep-network ] && keep_network=1

case "$dir" in
    */.lab/*/*) ;;
    *) lab_die "refusing to remove '$dir': not a lab host dir (<project>/.lab/<network>/<name>)" ;;
esac

network=$(basename "$(dirname "$dir")")
machine_stop "$dir"
if [ "$keep_network" = 0 ]; then
    export DYNOFORM_LAB_DIR="${DYNOFORM_LAB_DIR:-$(dirname "$(dirname "$dir")")}"
    lab_with_lock "$network" network_release_locked "$network"
fi
