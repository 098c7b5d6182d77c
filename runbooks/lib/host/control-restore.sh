# control-restore, on the host it restores onto as root: the dynoform-control daemon stopped, the
# state the archive holds moved aside to <root>.before-restore-<time> (kept: removed by hand once the
# restore is checked), the archive unpacked, the skeleton made again, the daemon started where this
# host has it. Set before it: root, archive (removed at the end), unit (the daemon's). Prints
# "aside: DIR" and "service: started|absent".
set -euo pipefail
trap 'rm -f "$archive"' EXIT
gzip -t "$archive"
tar -tzf "$archive" APPS >/dev/null
# What the archive holds: an archive made before accounts and audit were kept has neither, and then
# the host's own are left in place rather than set aside for nothing.
held="$(tar -tzf "$archive" | cut -d/ -f1 | sort -u)"
dirs=""
for d in apps repos slugs placement hosts tombstones accounts audit; do if grep -qx "$d" <<<"$held"; then dirs="$dirs $d"; fi; done
has_unit=no
if systemctl cat "$unit" >/dev/null 2>&1; then has_unit=yes; systemctl stop "$unit"; fi
aside="$root.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
install -d -m 0700 "$aside"
for d in $dirs; do [ ! -e "$root/$d" ] || mv "$root/$d" "$aside/"; done
install -d -m 0711 "$root" "$root/builds" "$root/cache"
# shellcheck disable=SC2086 # $dirs: fixed names, split on purpose
tar -C "$root" --numeric-owner -xzf "$archive" $dirs
install -d -m 0700 "$root/locks" "$root/trash"
echo "aside: $aside"
if [ "$has_unit" = yes ]; then systemctl start "$unit"; echo "service: started"; else echo "service: absent"; fi
