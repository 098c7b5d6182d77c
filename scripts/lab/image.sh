#!/usr/bin/env bash
# Build (once) and cache the lab's Debian bookworm images.
#
#   image.sh                  base image   -> $DYNOFORM_CACHE/lab/base-bookworm
#   image.sh --with-packages  base + the stack's Debian packages -> $DYNOFORM_CACHE/lab/packages-bookworm
#   image.sh --print-path [--with-packages]   print the image path (no build)
#
# Each image is built in a temporary directory next to the final one and renamed at the end,
# so an interrupted build never leaves a half image behind. A second run returns at once.
set -euo pipefail

CACHE="${DYNOFORM_CACHE:-$HOME/.cache/dynoform}/lab"
BASE="$CACHE/base-bookworm"
PACKAGES="$CACHE/packages-bookworm"
APT_ARCHIVES="$CACHE/apt-archives"
# The stack's Debian packages (nginx is Debian's own `nginx` package).
STACK_PACKAGES=(nginx varnish memcached sasl2-bin postgresql nftables keepalived netbase
    git postgresql-client python3 python3-venv python3-dev ruby ruby-dev bundler build-essential libpq-dev pkg-config ruby-rack puma libpq5)
# Bump when the recipe changes: an image of another version is rebuilt (when no machine uses it).
IMAGE_VERSION=2
# Bump when only the packages image's recipe changes.
PACKAGES_IMAGE_VERSION=6
INCLUDE=openssh-server,systemd,systemd-sysv,dbus,iproute2,ca-certificates,libpam-systemd

with_packages=0
print_path=0
for arg in "$@"; do
    case "$arg" in
        --with-packages) with_packages=1 ;;
        --print-path) print_path=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "image.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

if [ "$print_path" = 1 ]; then
    if [ "$with_packages" = 1 ]; then echo "$PACKAGES"; else echo "$BASE"; fi
    exit 0
fi

log() { printf '[lab image] %s\n' "$*" >&2; }
die() { printf '[lab image] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "building the lab image needs root (debootstrap, systemd-nspawn); run as root"
for tool in debootstrap systemd-nspawn; do
    command -v "$tool" >/dev/null || die "'$tool' is missing: apt-get install debootstrap systemd-container (scripts/setup does this)"
done

# The Debian mirror this machine's apt already uses (override: DYNOFORM_DEBIAN_MIRROR).
debian_mirror() {
    if [ -n "${DYNOFORM_DEBIAN_MIRROR:-}" ]; then echo "$DYNOFORM_DEBIAN_MIRROR"; return; fi
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk 'tolower($1)=="uris:" {for (i=2;i<=NF;i++) print $i}' \
        | grep -E '/debian/?$' | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' \
            | grep -E '/debian/?$' | head -n1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# Runs at the end of a build or on interruption: a temp dir is never left behind.
TMP=""
cleanup_tmp() {
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        log "removing unfinished build $TMP"
        # Unmount anything left inside (debootstrap mounts /proc and /sys in the target).
        findmnt -rn -o TARGET | grep -F "$TMP/" | sort -r | while read -r m; do umount -l "$m" || true; done
        rm -rf --one-file-system "$TMP"
    fi
}
trap cleanup_tmp EXIT
trap 'exit 130' INT TERM

# Show a line per step while a long command runs quietly into a log.
run_logged() {
    local logfile="$1"; shift
    if ! "$@" >"$logfile" 2>&1; then
        tail -n 30 "$logfile" >&2
        die "'$1' failed (full log: $logfile)"
    fi
}

build_base() {
    local mirror
    mirror=$(debian_mirror)
    mkdir -p "$CACHE"
    TMP=$(mktemp -d "$CACHE/.base-bookworm.build.XXXXXX")
    chmod 755 "$TMP" # mktemp makes it 0700: the image's / must be traversable by non-root users
    local started=$SECONDS
    log "debootstrap bookworm from $mirror into $TMP (about 1-2 minutes)"
    # debootstrap prints one line per step (I: Retrieving/Validating/Unpacking/Configuring ...):
    # show them as progress.
    if ! debootstrap --variant=minbase --include="$INCLUDE" bookworm "$TMP" "$mirror" 2>&1 \
        | tee "$CACHE/.base-bookworm.debootstrap.log" \
        | grep --line-buffered -E '^I: (Retrieving Release|Resolving dependencies of base|Retrieving libc6|Extracting adduser|Installing core|Configuring required|Configuring the base|Base system)' \
        | sed -u 's/^/[lab image]   /' >&2; then
        :
    fi
    [ -x "$TMP/usr/sbin/sshd" ] && [ -x "$TMP/lib/systemd/systemd" ] \
        || { tail -n 30 "$CACHE/.base-bookworm.debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/.base-bookworm.debootstrap.log)"; }
    log "configuring the image"
    configure_base "$TMP"
    mv -T "$TMP" "$BASE"
    TMP=""
    log "base image ready: $BASE ($((SECONDS - started)) s, $(du -sh "$BASE" | cut -f1))"
}

configure_base() {
    local root="$1"
    # Networking: systemd-networkd; each host gets its own .network file with a static address.
    systemctl --root="$root" enable systemd-networkd.service >/dev/null 2>&1
    # Don't wait up to 2 minutes for "online" at boot.
    systemctl --root="$root" mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true
    # sshd: enabled; host keys are generated per machine by the lab provider, never shipped.
    systemctl --root="$root" enable ssh.service >/dev/null 2>&1
    rm -f "$root"/etc/ssh/ssh_host_*
    mkdir -p "$root/etc/ssh/sshd_config.d"
    cat >"$root/etc/ssh/sshd_config.d/10-dynoform-lab.conf" <<'EOF'
# dynoform lab: root by key only, one ed25519 host key written per machine.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
    install -d -m 700 "$root/root/.ssh"
    # No getty on the console (nspawn runs with --console=passive) nor on ttys.
    for unit in console-getty.service container-getty@.service getty@.service serial-getty@.service getty.target; do
        systemctl --root="$root" mask "$unit" >/dev/null 2>&1 || true
    done
    # Each machine gets its own machine-id at first boot.
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    # apt: the archive cache is mounted from the machine's shared cache; keep what is downloaded,
    # and download as root (the shared cache's ownership is the machine's, not the host's _apt).
    install -d "$root/var/cache/apt/archives/partial"
    cat >"$root/etc/apt/apt.conf.d/90dynoform-lab" <<'EOF'
Binary::apt::APT::Keep-Downloaded-Packages "true";
APT::Keep-Downloaded-Packages "true";
APT::Sandbox::User "root";
Acquire::Retries "3";
EOF
    rm -f "$root/etc/apt/apt.conf.d/docker-clean"
    # The mirror the image was built from is the hosts' mirror too (debootstrap wrote sources.list).
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
    # Marker with provenance, read by the provider to tell images apart.
    printf 'version=%s\nbuilt=%s\nmirror=%s\ninclude=%s\n' "$IMAGE_VERSION" "$(date -u +%FT%TZ)" "$(debian_mirror)" "$INCLUDE" >"$root/etc/dynoform-lab-image"
}

build_packages() {
    mkdir -p "$CACHE" "$APT_ARCHIVES/partial"
    TMP=$(mktemp -d "$CACHE/.packages-bookworm.build.XXXXXX")
    chmod 755 "$TMP"
    local started=$SECONDS
    log "copying the base image"
    cp -a --reflink=auto "$BASE/." "$TMP/"
    log "apt-get install ${STACK_PACKAGES[*]} (in a container on the base image; downloads go to $APT_ARCHIVES)"
    # Not booted: no services start; Debian's postinst scripts still enable them, exactly as
    # the same apt-get run on a lab host would leave them at next boot.
    if ! systemd-nspawn -q -D "$TMP" --register=no --keep-unit --resolv-conf=copy-host \
        --timezone=off --bind="$APT_ARCHIVES:/var/cache/apt/archives" --pipe \
        /bin/sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get install -y ${STACK_PACKAGES[*]}" 2>&1 \
        | tee "$CACHE/.packages-bookworm.apt.log" \
        | grep --line-buffered -E '^(Reading package lists|Fetched |Setting up (nginx|varnish|memcached|postgresql) |E: )' \
        | sed -u 's/^/[lab image]   /' >&2; then
        :
    fi
    for pkg in "${STACK_PACKAGES[@]}"; do
        grep -q "^Package: $pkg\$" "$TMP/var/lib/dpkg/status" \
            || { tail -n 30 "$CACHE/.packages-bookworm.apt.log" >&2; die "apt-get install failed: $pkg missing (log: $CACHE/.packages-bookworm.apt.log)"; }
    done
    # Installed but not running: each role's component enables exactly its services on its hosts,
    # so a host of the packages image ends up like the same host on the cold path.
    # (nftables.service stays off too: its /etc/nftables.conf flushes the whole ruleset, the stack's
    # table included; the stack loads its own with dynoform-firewall.service.)
    systemctl --root="$TMP" disable nginx.service varnish.service memcached.service saslauthd.service postgresql.service nftables.service keepalived.service >/dev/null 2>&1 || true
    rm -rf "$TMP"/var/lib/apt/lists/* "$TMP"/var/cache/apt/*.bin
    rm -f "$TMP"/etc/resolv.conf
    printf 'packages=%s\npackages_version=%s\n' "${STACK_PACKAGES[*]}" "$PACKAGES_IMAGE_VERSION" >>"$TMP/etc/dynoform-lab-image"
    mv -T "$TMP" "$PACKAGES"
    TMP=""
    log "packages image ready: $PACKAGES ($((SECONDS - started)) s, $(du -sh "$PACKAGES" | cut -f1))"
}

mkdir -p "$CACHE"
# One builder at a time per cache (setup and tests may race).
exec 9>"$CACHE/.image.lock"
flock 9

# An image built by an older recipe is removed, unless a lab machine runs on it.
current() {
    local img="$1"
    [ -d "$img" ] || return 1
    if grep -qx "version=$IMAGE_VERSION" "$img/etc/dynoform-lab-image" 2>/dev/null; then return 0; fi
    if grep -qF "lowerdir=$img," /proc/self/mountinfo; then
        log "warning: $img is from an older recipe but lab machines use it; keeping it (run scripts/lab/cleanup.sh, then image.sh again)"
        return 0
    fi
    log "$img is from an older recipe: rebuilding it"
    rm -rf --one-file-system "$img"
    return 1
}

if current "$BASE"; then
    log "base image cached: $BASE"
else
    current "$PACKAGES" >/dev/null 2>&1 || true
    build_base
fi
if [ "$with_packages" = 1 ]; then
    if current "$PACKAGES" && ! grep -qx "packages_version=$PACKAGES_IMAGE_VERSION" "$PACKAGES/etc/dynoform-lab-image" \
        && ! grep -qF "lowerdir=$PACKAGES," /proc/self/mountinfo; then
        log "packages image is from an older recipe: rebuilding it"
        rm -rf --one-file-system "$PACKAGES"
    fi
    if current "$PACKAGES"; then
        log "packages image cached: $PACKAGES"
    else
        build_packages
    fi
fi
