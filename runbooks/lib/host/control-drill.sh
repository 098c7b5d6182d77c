# control-restore --drill, on the backup host as root: the archive unpacked into a scratch directory
# (removed after), its apps listed, each repo through git fsck where git is installed, each app with
# code having a slug. Set before it: archive. Prints "apps: a b c", then one "problem: ..." per problem.
set -euo pipefail
scratch="$(mktemp -d /var/tmp/dynoform-control-drill.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
tar -C "$scratch" --numeric-owner -xzf "$archive"
cd "$scratch"
echo "apps: $(ls apps | tr '\n' ' ')"
for dir in apps/*/; do
  app="$(basename "$dir")"
  [ -f "apps/$app/app.json" ] || echo "problem: $app has no app.json"
  if [ -d "repos/$app.git" ] && command -v git >/dev/null; then
    git -c safe.directory='*' --git-dir="repos/$app.git" fsck --connectivity-only --no-progress >/dev/null 2>&1 || echo "problem: the git repo of $app fails git fsck"
  fi
  if ls "apps/$app/releases" 2>/dev/null | grep -q '^v[0-9]*\.json$' && grep -qs '"slug": *{' apps/$app/releases/v*.json; then
    ls slugs/$app/*.tgz >/dev/null 2>&1 || echo "problem: $app has releases with code but no slug in the archive"
  fi
done
