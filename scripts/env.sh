# Sourced by the scripts: where the project's tools and local Pulumi state live.
# The local stacks' state is encrypted with this documented passphrase (local lab only; for
# real servers use your own backend and passphrase or a cloud secrets provider).
DYNOFORM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DYNOFORM_ROOT
export DYNOFORM_CACHE="${DYNOFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynoform}"
export PATH="$DYNOFORM_ROOT/.tools/pulumi/bin:$DYNOFORM_ROOT/node_modules/.bin:$PATH"
export PULUMI_HOME="${PULUMI_HOME:-$DYNOFORM_ROOT/.tools/pulumi-home}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$DYNOFORM_ROOT/.pulumi-state}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-dynoform-local-lab}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_CONFIRMATIONS=true

step() { printf -- '-----> %s\n' "$*"; }
detail() { printf -- '       %s\n' "$*"; }
