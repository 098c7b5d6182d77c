# Sourced by the scripts: where the project's tools and local Pulumi state live.
DYNOFORM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DYNOFORM_ROOT
export DYNOFORM_CACHE="${DYNOFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynoform}"
export PATH="$DYNOFORM_ROOT/.tools/pulumi/bin:$DYNOFORM_ROOT/node_modules/.bin:$PATH"
export PULUMI_HOME="${PULUMI_HOME:-$DYNOFORM_ROOT/.tools/pulumi-home}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$DYNOFORM_ROOT/.pulumi-state}"
# The documented passphrase is for the lab stacks only (target lab in stacks/Pulumi.<stack>.yaml;
# $DYNOFORM_STACK, default local): their secrets open machines on this machine and nothing else.
# Any other stack brings its own passphrase or secrets provider, and keeps Pulumi's confirmation
# prompt; the program refuses the lab's passphrase for it (components/config/stack_config.ts).
if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] \
   && grep -qsE '^[[:space:]]*dynoform:target:[[:space:]]*lab[[:space:]]*$' "$DYNOFORM_ROOT/stacks/Pulumi.${DYNOFORM_STACK:-local}.yaml"; then
  export PULUMI_CONFIG_PASSPHRASE=dynoform-local-lab
fi
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

step() { printf -- '-----> %s\n' "$*"; }
detail() { printf -- '       %s\n' "$*"; }
