# Run by `pulumi destroy` (and by removing the data role from a host) before the instances' unit
# template goes: every app's Memcached that dynoform-addons made at apps:create goes too (stopped,
# disabled, its port, SASL database and env file removed). PostgreSQL's databases and roles stay.
set -u
instances=$(
  systemctl list-units --all --plain --no-legend --full 'dynoform-memcached@*.service' 2>/dev/null | awk '{print $1}'
  for link in {{unitDirectory}}/*.wants/dynoform-memcached@*.service; do
    [ -L "$link" ] && basename "$link"
  done
)
for unit in $(printf '%s\n' "$instances" | sort -u); do
  systemctl disable --now --quiet "$unit" 2>/dev/null || systemctl stop "$unit" 2>/dev/null || true
done
rm -f {{unitDirectory}}/*.wants/dynoform-memcached@*.service
systemctl reset-failed 'dynoform-memcached@*' 2>/dev/null || true
rm -rf {{instancesDir}}
