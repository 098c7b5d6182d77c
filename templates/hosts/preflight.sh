# dynoform preflight of {{hostName}} (templates/hosts/preflight.sh): run as root before anything is
# provisioned on a servers host. Finds what a plain machine may lack for its roles and prints every
# problem at once, each with its fix, then fails; touches nothing. DYNOFORM_PREFLIGHT_ROOT is for
# tests (a directory standing for /); the commands come from PATH.
set -u
root="${DYNOFORM_PREFLIGHT_ROOT:-}"
host="{{hostName}}"
address="{{privateAddress}}"
min_free_mb={{minFreeMb}}
problems=""
problem() {
  problems="$problems
  - $*"
}
field() { sed -n "s/^$1=//p" "$root/etc/os-release" | tr -d '"' | head -n1; }

# Debian 12: the roles install bookworm's packages (nginx, Varnish, PostgreSQL 15) and rely on its systemd.
if [ -r "$root/etc/os-release" ]; then
  if [ "$(field ID)" != debian ] || [ "$(field VERSION_ID)" != 12 ]; then
    problem "it runs $(field PRETTY_NAME), not Debian 12 (bookworm): dynoform installs bookworm's packages (nginx, Varnish, PostgreSQL 15) and relies on its systemd; install Debian 12 on it"
  fi
else
  problem "it has no /etc/os-release, so it is not a Debian 12 (bookworm) system: install Debian 12 on it"
fi

# systemd as PID 1: every service and every dyno is a systemd unit.
pid1="$(cat "$root/proc/1/comm" 2>/dev/null || echo unknown)"
if [ "$pid1" != systemd ] || [ ! -d "$root/run/systemd/system" ]; then
  problem "its PID 1 is $pid1, not systemd: dynoform's services and every dyno are systemd units; boot it with systemd (apt-get install systemd-sysv, then reboot)"
fi

# Root: the roles make users, units and firewall rules (a non-root SSH user gets here through sudo -n).
if [ "$(id -u)" != 0 ]; then
  problem "commands run as $(id -un), not root: connect as root (dynoform:hosts[].user: root) or give $(id -un) passwordless sudo"
fi

# Commands the roles' scripts and services run, and the Debian package of each.
missing=""
packages=""
for pair in apt-get:apt dpkg-query:dpkg systemctl:systemd systemd-run:systemd ip:iproute2 flock:util-linux runuser:util-linux \
    mountpoint:util-linux useradd:passwd userdel:passwd getent:libc-bin awk:mawk find:findutils tar:tar gzip:gzip \
    sha256sum:coreutils pkill:procps; do
  command -v "${pair%%:*}" >/dev/null 2>&1 && continue
  missing="$missing ${pair%%:*}"
  case " $packages " in *" ${pair#*:} "*) ;; *) packages="$packages ${pair#*:}" ;; esac
done
if [ -n "$missing" ]; then
  problem "commands missing:$missing: apt-get install$packages"
fi

# The private address: internal services bind it, so it must be one of the host's own.
if command -v ip >/dev/null 2>&1; then
  addresses="$(ip -o -4 addr show 2>/dev/null | awk '{print $4}' | tr '\n' ' ')"
  addresses="${addresses% }"
  case " $addresses" in
    *" $address/"*) ;;
    *) problem "its private address $address is on none of its interfaces (it has: ${addresses:-none}): set privateAddress of $host in dynoform:hosts to its address on dynoform:privateSubnet, or configure $address on its private interface" ;;
  esac
fi

# apt: a consistent dpkg and a Debian package source to install the roles' packages from.
if command -v dpkg >/dev/null 2>&1 && [ -n "$(dpkg --audit 2>/dev/null)" ]; then
  problem "dpkg has packages that are not fully installed (dpkg --audit lists them): run dpkg --configure -a (then apt-get -f install) on it"
fi
if ! cat "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*.list "$root"/etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -Eq '^[[:space:]]*(deb[[:space:]]|Types:.*deb([[:space:]]|$))'; then
  problem "apt has no Debian package source: add 'deb http://deb.debian.org/debian bookworm main' and 'deb http://security.debian.org/debian-security bookworm-security main' to /etc/apt/sources.list"
fi

# Room on / for the packages, slugs, builds and PostgreSQL.
free_kb="$(df -Pk "$root/" 2>/dev/null | awk 'NR == 2 { print $4 }')"
free_mb=$((${free_kb:-0} / 1024))
if [ "$free_mb" -lt "$min_free_mb" ]; then
  problem "only $free_mb MB free on /: dynoform needs at least $min_free_mb MB there (Debian packages, slugs, builds, PostgreSQL); free some space or grow the disk"
fi

# The stack's firewall is its own table (inet dynoform_host) and it touches no other; an enabled
# nftables.service whose rules begin with "flush ruleset" would remove it each time it runs.
if systemctl is-enabled --quiet nftables.service 2>/dev/null && grep -Eqs '^[[:space:]]*flush[[:space:]]+ruleset' "$root/etc/nftables.conf"; then
  problem "nftables.service is enabled and /etc/nftables.conf flushes the whole ruleset, which would remove dynoform's firewall (table inet dynoform_host) at each boot or reload: delete only your own tables there (e.g. 'table inet filter' followed by 'delete table inet filter') instead of 'flush ruleset', or systemctl disable nftables"
fi

if [ -n "$problems" ]; then
  printf '%s is not ready for dynoform:%s\n' "$host" "$problems" >&2
  exit 1
fi
echo "$host: Debian 12, systemd, private address $address, $free_mb MB free on /: ready"
