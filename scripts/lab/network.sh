#!/usr/bin/env bash
# Lab network plumbing, called by the LabHost provider before it boots a machine:
#   network.sh up NETWORK BRIDGE SUBNET GATEWAY < RULESET   bridge + address, ip_forward, the nft
#                                    table on stdin if absent (idempotent), under the network's lock
# The network goes with its last host (host.sh stop).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lab_require_root

cmd="${1:-}"
case "$cmd" in
    up)
        [ $# -eq 5 ] || lab_die "usage: network.sh up NETWORK BRIDGE SUBNET GATEWAY"
        lab_with_lock "$2" network_up_locked "$2" "$3" "$4" "$5"
        ;;
    *) lab_die "usage: network.sh up NETWORK BRIDGE SUBNET GATEWAY < RULESET" ;;
esac
