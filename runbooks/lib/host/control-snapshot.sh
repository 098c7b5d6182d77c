# control-backup's snapshot, on the control host as root (runbooks/lib/control_archive.mjs says what
# is kept and why the app locks make it consistent). Set before it: root (the state root). Writes
# the archive (tar.gz) on stdout; progress and errors on stderr.
set -euo pipefail
cd "$root"
snap="$(mktemp -d "$root/.control-backup.XXXXXX")"
me="$$ $(hostname) $(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n') control-backup"
held=""
release() { [ -n "$held" ] && [ "$(cat "$held" 2>/dev/null)" = "$me" ] && rm -f "$held"; held=""; }
trap 'release; rm -rf "$snap"' EXIT
# The app lock as app_lock.ts takes it: created with O_EXCL (noclobber) holding "<pid> <host> <nonce>
# <what>"; a lock whose holder died on this host is broken the way app_lock.ts breaks it.
take() {
  local lock="$1" deadline=$((SECONDS + 60)) holder pid host
  until (set -C; printf '%s' "$me" >"$lock") 2>/dev/null; do
    holder="$(cat "$lock" 2>/dev/null || true)"
    pid="${holder%% *}"; host="$(printf '%s' "$holder" | cut -d' ' -f2)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$host" = "$(hostname)" ] && ! kill -0 "$pid" 2>/dev/null; then
      if mv -f "$lock" "$lock.breaking-$$" 2>/dev/null; then
        [ "$(cat "$lock.breaking-$$" 2>/dev/null)" = "$holder" ] || ln "$lock.breaking-$$" "$lock" 2>/dev/null || true
        rm -f "$lock.breaking-$$"
      fi
      continue
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then echo "control-backup: $lock is held (${holder:-?}) for over 60 s: run control-backup again when that operation ends" >&2; exit 1; fi
    sleep 0.2
  done
  held="$lock"
}
# refs before objects: a push landing between them leaves objects no ref names, never a ref
# without its objects.
link_repo() {
  local from="$1" to="$2" f
  rm -rf "$to"; mkdir -p "$to"
  for f in HEAD packed-refs refs; do [ ! -e "$from/$f" ] || cp -al "$from/$f" "$to/"; done
  for f in "$from"/*; do case "$(basename "$f")" in HEAD|packed-refs|refs) ;; *) cp -al "$f" "$to/" ;; esac; done
}
repo_ok() { git -c safe.directory='*' --git-dir="$1" fsck --connectivity-only --no-progress >/dev/null 2>&1; }
install -d -m 0700 "$snap/apps" "$snap/repos" "$snap/slugs" "$snap/placement" "$snap/hosts" "$snap/tombstones" "$snap/accounts" "$snap/audit"
: >"$snap/APPS"
count=0
for dir in apps/*/; do
  [ -d "$dir" ] || continue
  app="$(basename "$dir")"
  mkdir -p locks
  take "locks/$app.lock"
  if [ ! -d "apps/$app" ]; then release; continue; fi # destroyed while we waited
  cp -al "apps/$app" "$snap/apps/$app"
  [ ! -f "placement/$app.json" ] || cp -l "placement/$app.json" "$snap/placement/"
  [ ! -d "repos/$app.git" ] || link_repo "repos/$app.git" "$snap/repos/$app.git"
  # the current release's slug, and those of newer releases that failed
  for v in $(ls "apps/$app/releases" 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\)\.json$/\1/p' | sort -rn); do
    for sha in $(grep -o '[0-9a-f]\{64\}' "apps/$app/releases/v$v.json" | sort -u); do
      [ -f "slugs/$app/$sha.tgz" ] || continue
      mkdir -p "$snap/slugs/$app"; ln -f "slugs/$app/$sha.tgz" "$snap/slugs/$app/$sha.tgz"
    done
    grep -qs '"failed"' "apps/$app/releases/v$v.status.json" || break
  done
  release
  if [ -d "$snap/repos/$app.git" ] && command -v git >/dev/null && ! repo_ok "$snap/repos/$app.git"; then
    link_repo "repos/$app.git" "$snap/repos/$app.git"
    repo_ok "$snap/repos/$app.git" || { echo "control-backup: the git repo of $app fails git fsck: see git fsck in $root/repos/$app.git" >&2; exit 1; }
  fi
  echo "$app" >>"$snap/APPS"
  count=$((count + 1))
done
take "locks/_hosts.lock"
[ ! -f hosts/drained.json ] || cp -l hosts/drained.json "$snap/hosts/"
release
# accounts.json is replaced whole by a rename under its lock: a hard link is a frozen copy.
take "locks/_accounts.lock"
[ ! -f accounts/accounts.json ] || cp -l accounts/accounts.json "$snap/accounts/"
release
# The audit logs grow in place (appends): copied, not linked. A line being appended meanwhile may be
# cut short at the end of its copy, which the audit reader skips as a torn last line.
[ ! -d audit ] || find audit -maxdepth 1 -name '*.jsonl' -exec cp {} "$snap/audit/" \;
[ ! -d tombstones ] || find tombstones -maxdepth 1 -name '*.json' -exec cp -l {} "$snap/tombstones/" \;
echo "control-backup: $count apps snapshotted" >&2
tar -C "$snap" --numeric-owner -czf - APPS apps repos slugs placement hosts tombstones accounts audit
