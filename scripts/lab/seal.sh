#!/usr/bin/env bash
# The lab's seal: addresses of the lab block are reachable only through a live lab bridge.
#   seal.sh install [SUBNET BRIDGE]   add the seal if absent (idempotent); with SUBNET/BRIDGE,
#                                     also cover that range and allow that bridge
#   seal.sh status                    the seal's ruleset and how many packets it stopped
#   seal.sh uninstall                 remove it (says what it removes)
#
# Without it, a stack whose bridge is gone (machines deleted by hand, a crashed test, a reboot)
# still names 10.213.x.y hosts; `pulumi up` would send SSH there by the default route, into a
# private range of someone else's network. The seal is an nftables table of its own family
# (`inet`), so `npm run down` and cleanup.sh, which remove the per-network `ip dynoform_*`
# tables, leave it in place. Locally made packets get an ICMP "administratively prohibited"
# (the connect fails at once); forwarded ones are dropped. Both are counted in `stopped`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TABLE=dynoform_lab_seal
# The whole lab block (components/hosts/lab/config.ts LAB_BLOCK): every lab network is a /24 in it.
LAB_BLOCK=10.213.0.0/16

ruleset() {
    cat <<EOF
table inet $TABLE {
  # Address ranges of lab networks (the lab block, plus each network's own subnet as it comes up).
  set ranges { type ipv4_addr; flags interval; elements = { $LAB_BLOCK } }
  # Bridges of lab networks (dfbr-* by default; a stack may name its own).
  set bridges { type ifname; }
  counter stopped { }
  chain output {
    type filter hook output priority filter; policy accept;
    ip daddr @ranges oifname != "lo" oifname != "dfbr-*" oifname != @bridges counter name stopped reject with icmp type admin-prohibited
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip daddr @ranges oifname != "dfbr-*" oifname != @bridges counter name stopped drop
  }
}
EOF
}

case "${1:-}" in
    install)
        lab_require_root
        if ! nft list table inet "$TABLE" >/dev/null 2>&1; then
            lab_log "sealing the lab block $LAB_BLOCK: packets to it leave only by a lab bridge (nft table inet $TABLE)"
            ruleset | nft -f -
        fi
        if [ $# -ge 3 ]; then
            nft add element inet "$TABLE" ranges "{ $2 }" 2>/dev/null || true # already covered by the block
            nft add element inet "$TABLE" bridges "{ \"$3\" }"
        fi
        ;;
    status)
        lab_require_root
        if nft list table inet "$TABLE" 2>/dev/null; then
            echo "stopped=$(nft -j list counter inet "$TABLE" stopped | sed -n 's/.*"packets": *\([0-9]*\).*/\1/p')"
        else
            echo "the lab is not sealed: run npm run setup"
            exit 1
        fi
        ;;
    uninstall)
        lab_require_root
        if nft list table inet "$TABLE" >/dev/null 2>&1; then
            lab_log "removing nft table inet $TABLE: packets to the lab block $LAB_BLOCK (and lab subnets) are no longer kept on lab bridges; with a lab bridge gone they follow the default route again"
            nft delete table inet "$TABLE"
        else
            lab_log "the lab seal (nft table inet $TABLE) is not installed; nothing to remove"
        fi
        ;;
    *) lab_die "usage: seal.sh install [SUBNET BRIDGE] | status | uninstall" ;;
esac
