#!/usr/bin/env bash
# Remove every lab machine, mount, bridge and nft table the lab created — for one network or all.
#   cleanup.sh [NETWORK]
# Finds machines by their .lab/<network>/<name>/ dirs (pid file, or a systemd-nspawn booting that
# dir's root), and networks by .lab/<network>/ dirs plus any leftover dfbr-* bridge / dynoform_*
# nft table of that name. Idempotent; touches nothing the lab did not create. Used by `npm run down`
# and test teardown after a failed run.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

only="${1:-}"
labdir=$(lab_dir)
export DYNOFORM_LAB_DIR="$labdir"

if [ "$(id -u)" != 0 ]; then
    # Nothing to clean can exist without root; say so rather than fail when there is nothing.
    if [ -d "$labdir" ] && [ -n "$(find "$labdir" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ]; then
        lab_require_root
    fi
    exit 0
fi

networks() {
    if [ -n "$only" ]; then echo "$only"; return; fi
    {
        [ -d "$labdir" ] && find "$labdir" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
        # Leftovers whose dir is gone (e.g. a deleted checkout's .lab).
        ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | sed -n 's/^dfbr-//p'
        nft list tables ip 2>/dev/null | awk '{print $3}' | sed -n 's/^dynoform_//p' | tr '_' '-'
    } | sort -u
}

cleanup_network() {
    local network="$1" bridge="" name
    if [ -f "$labdir/$network/network.env" ]; then
        bridge=$(sed -n 's/^BRIDGE=//p' "$labdir/$network/network.env")
    fi
    for name in $(network_hosts "$network"); do
        machine_stop "$labdir/$network/$name"
    done
    # Containers whose host dir is already gone (e.g. a dir removed by hand).
    kill_orphans "$labdir/$network/"
    network_down "$network" "${bridge:-dfbr-$network}"
    rm -f "$labdir/$network/network.env"
    rmdir "$labdir/$network" 2>/dev/null || true
    rm -f "$labdir/.$network.lock"
}

count=0
for network in $(networks); do
    lab_with_lock "$network" cleanup_network "$network"
    count=$((count + 1))
done
rmdir "$labdir" 2>/dev/null || true
lab_log "cleanup done (${only:-all networks}; $count network(s) checked)"
