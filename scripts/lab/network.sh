#!/usr/bin/env bash
# Lab network plumbing, called by the LabHost provider:
#   network.sh up NETWORK BRIDGE SUBNET GATEWAY < RULESET   bridge + address, ip_forward, the nft
#                                    table on stdin if absent (idempotent)
#   network.sh release NETWORK [BRIDGE]           remove them if no host dir of NETWORK is left
# Both run under the network's lock.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lab_require_root

cmd="${1:-}"
case "$cmd" in
    up)
        [ $# -eq 5 ] || lab_die "usage: network.sh up NETWORK BRIDGE SUBNET GATEWAY"
        lab_with_lock "$2" network_up_locked "$2" "$3" "$4" "$5"
        ;;
    release)
        [ $# -ge 2 ] || lab_die "usage: network.sh release NETWORK [BRIDGE]"
        lab_with_lock "$2" network_release_locked "$2" "${3:-}"
        ;;
    *) lab_die "usage: network.sh up|release ..." ;;
esac
