#!/usr/bin/env bash
# `npm run bench:up`: how long provisioning takes, on its own lab network (10.213.3.0/24).
#   setup_cached_s    — scripts/setup when everything is already there
#   pulumi_up_cold_s  — pulumi up of the local stack (5 hosts, two edges) from the bare debootstrap image
#                       (boots machines, apt-installs nginx, varnish, keepalived, postgresql, memcached)
#   pulumi_up_noop_s  — the second pulumi up, nothing to change
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$DYNOFORM_ROOT"
stack=bench
stack_file="stacks/Pulumi.$stack.yaml"
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.1f'; }

t=$(now); bash scripts/setup >/dev/null; setup_cached_s=$(since "$t")

sed -e 's/network: local/network: bench/' -e 's/10\.213\.1\./10.213.3./g' -e 's/subnet: 10.213.3.0\/24/subnet: 10.213.3.0\/24\n    image: base/' \
  stacks/Pulumi.local.yaml > "$stack_file"
cleanup() {
  pulumi destroy --stack "$stack" --yes --skip-preview --suppress-progress >/dev/null 2>&1 || true
  bash scripts/lab/cleanup.sh bench >/dev/null 2>&1 || true
  pulumi stack rm "$stack" --yes --force >/dev/null 2>&1 || true
  rm -f "$stack_file" "${log:-}"
}
trap cleanup EXIT
pulumi stack select --create "$stack" >/dev/null

log="$(mktemp)"
up() {
  if ! pulumi up --stack "$stack" --yes --skip-preview --suppress-progress >"$log" 2>&1; then
    tail -n 40 "$log"; echo "bench:up: pulumi up failed (see above)"; exit 1
  fi
}
step "pulumi up from the bare image (cold)"
t=$(now); up; pulumi_up_cold_s=$(since "$t")
step "pulumi up again (no changes)"
t=$(now); up; pulumi_up_noop_s=$(since "$t")
grep -q "unchanged" "$log" && ! grep -Eq "[0-9]+ (created|updated|replaced|deleted)" "$log" || { tail -n 20 "$log"; echo "bench:up: the second pulumi up changed something"; exit 1; }

echo "setup_cached_s=$setup_cached_s"
echo "pulumi_up_cold_s=$pulumi_up_cold_s"
echo "pulumi_up_noop_s=$pulumi_up_noop_s"
