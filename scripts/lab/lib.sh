# Shared shell functions of the lab (sourced by network.sh, host.sh, cleanup.sh).
# The one implementation of "bring a lab network up", "stop a machine and remove all it left"
# and "drop a network nobody uses": the LabHost provider and cleanup.sh both call these.

LAB_CACHE="${DYNOFORM_CACHE:-$HOME/.cache/dynoform}/lab"
LAB_APT_ARCHIVES="$LAB_CACHE/apt-archives"

lab_log() { printf '[lab] %s\n' "$*" >&2; }
lab_die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

lab_require_root() {
    [ "$(id -u)" = 0 ] || lab_die "the lab needs root (overlay mounts, systemd-nspawn, bridges, nftables); run as root"
}

# The project's .lab directory (override: DYNOFORM_LAB_DIR).
lab_dir() {
    if [ -n "${DYNOFORM_LAB_DIR:-}" ]; then echo "$DYNOFORM_LAB_DIR"; return; fi
    local here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    echo "$here/.lab"
}

lab_nft_table() { echo "dynoform_${1//-/_}"; }

# Run "$@" holding the network's lock (.lab/.<network>.lock): network setup/teardown and the
# "is any host left" count never interleave between concurrent creates and deletes.
lab_with_lock() {
    local network="$1"; shift
    local labdir; labdir=$(lab_dir)
    mkdir -p "$labdir"
    (
        flock -w 120 9 || lab_die "timed out waiting for $labdir/.$network.lock"
        "$@"
    ) 9>"$labdir/.$network.lock"
}

# network_up_locked NETWORK BRIDGE SUBNET GATEWAY < nft-ruleset — idempotent.
network_up_locked() {
    local network="$1" bridge="$2" subnet="$3" gateway="$4"
    local labdir prefix table
    labdir=$(lab_dir)
    prefix="${subnet#*/}"
    table=$(lab_nft_table "$network")
    mkdir -p "$labdir/$network"
    # Never a lab network without the seal (seal.sh): its subnet and bridge join it.
    bash "$(dirname "${BASH_SOURCE[0]}")/seal.sh" install "$subnet" "$bridge"
    printf 'NETWORK=%s\nBRIDGE=%s\nSUBNET=%s\nGATEWAY=%s\n' "$network" "$bridge" "$subnet" "$gateway" >"$labdir/$network/network.env"
    if ! ip link show dev "$bridge" >/dev/null 2>&1; then
        lab_log "creating bridge $bridge ($gateway/$prefix)"
        ip link add name "$bridge" type bridge 2>/dev/null || ip link show dev "$bridge" >/dev/null
    fi
    if ! ip -4 addr show dev "$bridge" | grep -qF "inet $gateway/$prefix"; then
        ip addr add "$gateway/$prefix" dev "$bridge"
    fi
    ip link set dev "$bridge" up
    if [ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
        echo 1 >/proc/sys/net/ipv4/ip_forward
    fi
    if ! nft list table ip "$table" >/dev/null 2>&1; then
        lab_log "adding nft table ip $table (masquerade $subnet)"
        # The ruleset comes on stdin (nftRuleset() in components/hosts/lab/config.ts).
        nft -f -
    fi
}

# The host dirs of a network: every subdirectory of .lab/<network>/.
network_hosts() {
    local dir; dir="$(lab_dir)/$1"
    [ -d "$dir" ] || return 0
    find "$dir" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort
}

# Remove the bridge, nft table and network dir when no host dir is left.
network_release_locked() {
    local network="$1" bridge=""
    local labdir; labdir=$(lab_dir)
    if [ -n "$(network_hosts "$network")" ]; then return 0; fi
    if [ -f "$labdir/$network/network.env" ]; then
        bridge=$(sed -n 's/^BRIDGE=//p' "$labdir/$network/network.env")
    fi
    bridge="${bridge:-dfbr-$network}"
    network_down "$network" "$bridge"
    rm -f "$labdir/$network/network.env"
    rmdir "$labdir/$network" 2>/dev/null || true
}

network_down() {
    local network="$1" bridge="$2" table
    table=$(lab_nft_table "$network")
    if nft list table ip "$table" >/dev/null 2>&1; then
        lab_log "deleting nft table ip $table"
        nft delete table ip "$table"
    fi
    if ip link show dev "$bridge" >/dev/null 2>&1; then
        lab_log "deleting bridge $bridge"
        ip link delete dev "$bridge" type bridge 2>/dev/null || ip link delete dev "$bridge"
    fi
}

# Pids of systemd-nspawn processes booting ROOT (from the pid file and by scanning /proc, so a
# machine whose pid file was never written is still found). Zombies have an empty cmdline.
machine_pids() {
    local dir="$1" root="$1/root" pid cmd
    {
        [ -f "$dir/nspawn.pid" ] && cat "$dir/nspawn.pid"
        for p in /proc/[0-9]*; do echo "${p#/proc/}"; done
    } | sort -un | while read -r pid; do
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
        case "$cmd" in
            *systemd-nspawn*" -D $root "*) echo "$pid" ;;
        esac
    done
}

# Container inits (PID 1 of their own pid namespace) still running on a lab overlay whose
# upperdir starts with PREFIX (a host dir's "<dir>/upper," or a network's "<labdir>/<net>/"):
# when systemd-nspawn itself is killed, the container it started lives on.
lab_orphans() {
    local prefix="$1" f pid
    grep -lsF "upperdir=$prefix" /proc/[0-9]*/mountinfo 2>/dev/null | while read -r f; do
        pid=${f#/proc/}; pid=${pid%/mountinfo}
        if awk '/^NSpid:/ { exit !(NF > 2 && $NF == 1) }' "/proc/$pid/status" 2>/dev/null; then echo "$pid"; fi
    done
}

kill_orphans() {
    local pid
    for pid in $(lab_orphans "$1"); do
        lab_log "killing a lab container (pid $pid) left running by a dead systemd-nspawn"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 50 || lab_log "warning: pid $pid still present"
    done
}

wait_gone() {
    local pid="$1" tenths="$2" i=0 cmd
    while [ "$i" -lt "$tenths" ]; do
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
        [ -n "$cmd" ] || return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# Host-side names of the veths of the containers on DIR's overlay (their host0's peer).
machine_veths() {
    local dir="$1" pid idx
    for pid in $(lab_orphans "$dir/upper,"); do
        idx=$(nsenter -t "$pid" -n ip -o link show dev host0 2>/dev/null | sed -n 's/^[0-9]*: host0@if\([0-9]*\):.*/\1/p')
        # A process of the container in a network namespace of its own has no host0: skip it
        # (an `&&` here would end the loop, and the function, with status 1 under `set -e`).
        if [ -n "$idx" ]; then ip -o link show 2>/dev/null | awk -F': ' -v i="$idx" '$1 == i { sub(/@.*/, "", $2); print $2 }'; fi
    done
}

# The kernel removes a dead container's veth asynchronously; wait for it (a new machine of the
# same name needs the name), then remove it ourselves.
wait_veth_gone() {
    local veth="$1" i=0
    while ip link show dev "$veth" >/dev/null 2>&1; do
        if [ "$i" -ge 50 ]; then ip link delete dev "$veth" 2>/dev/null || true; return 0; fi
        sleep 0.1; i=$((i + 1))
    done
}

# Stop the machine in DIR and remove everything it left: process, mounts, cgroup, the dir.
# Safe on a machine that already died or was half created.
machine_stop() {
    local dir="$1" pid m veths veth
    [ -d "$dir" ] || return 0
    veths=$(machine_veths "$dir")
    for pid in $(machine_pids "$dir"); do
        lab_log "stopping $(basename "$dir") (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 150; then
            lab_log "$(basename "$dir") did not halt in 15 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 50 || lab_log "warning: pid $pid still present"
        fi
    done
    kill_orphans "$dir/upper,"
    for veth in $veths; do wait_veth_gone "$veth"; done
    # Unmount everything under DIR, deepest first.
    findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0 "/", d) == 1' | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
    machine_harvest_apt "$dir"
    if [ -f "$dir/cgroup" ]; then
        find "$(cat "$dir/cgroup")" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    fi
    if findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0 "/", d) == 1' | grep -q .; then
        lab_die "mounts remain under $dir; not removing it"
    fi
    rm -rf --one-file-system "$dir"
}

# Keep the .debs a machine downloaded: move them into the shared apt archive for the next ones.
machine_harvest_apt() {
    local upper="$1/apt-upper" f base
    [ -d "$upper" ] || return 0
    mkdir -p "$LAB_APT_ARCHIVES"
    for f in "$upper"/*.deb; do
        [ -f "$f" ] || continue
        base=$(basename "$f")
        [ -e "$LAB_APT_ARCHIVES/$base" ] && continue
        cp "$f" "$LAB_APT_ARCHIVES/.$base.tmp" && mv -f "$LAB_APT_ARCHIVES/.$base.tmp" "$LAB_APT_ARCHIVES/$base" || rm -f "$LAB_APT_ARCHIVES/.$base.tmp"
    done
}
