// The built-in Python and Ruby buildpacks: Heroku classic buildpacks (bin/detect, bin/compile,
// bin/release) run through the same API as third-party ones (buildpack_api.ts). They use the
// interpreter Debian installs on the control host (python3, ruby) — dyno hosts have the same one at
// the same path — and put what the app installs inside the slug: a venv at .heroku/python, gems in
// vendor/bundle. Kept here as text so the single-file control binary carries them; builtin.ts writes
// them into each build's sandbox.
//
// (No "${" below: these are template literals.)

/** Shared by bin/compile scripts: output helpers and the app's config vars exported for the tools. */
const PRELUDE = String.raw`set -eo pipefail
BUILD_DIR=$1
CACHE_DIR=$2
ENV_DIR=$3
topic() { echo "-----> $*"; }
info() { echo "       $*"; }
indent() { sed -u 's/^/       /'; }
fail() { echo " !     $*"; exit 1; }
# The app's config vars reach the tools (pip and bundler read their own variables), except the
# ones that would break the build itself.
if [ -d "$ENV_DIR" ]; then
  for f in "$ENV_DIR"/*; do
    [ -f "$f" ] || continue
    k=$(basename "$f")
    case "$k" in
      PATH|GIT_DIR|CPATH|CPPATH|LD_PRELOAD|LIBRARY_PATH|LD_LIBRARY_PATH|PYTHONHOME|PYTHONPATH|HOME|TMPDIR) continue ;;
    esac
    export "$k=$(cat "$f")"
  done
fi
mkdir -p "$CACHE_DIR"
`;

/** .profile.d: WEB_CONCURRENCY = the dyno's CPU share (its cgroup's cpu.max, whole CPUs, at most nproc) unless set. */
export const WEB_CONCURRENCY_PROFILE = String.raw`# WEB_CONCURRENCY: one worker per CPU share of this dyno (its cgroup's cpu.max), unless set.
# gunicorn reads it; config/puma.rb and unicorn.rb use it for their worker count.
if [ -z "$WEB_CONCURRENCY" ]; then
  _wc_n=$(nproc 2>/dev/null || echo 1)
  _wc_cg=$(sed -n 's/^0:://p' /proc/self/cgroup 2>/dev/null)
  while [ -n "$_wc_cg" ]; do
    if read -r _wc_q _wc_p 2>/dev/null < "/sys/fs/cgroup$_wc_cg/cpu.max" && [ "$_wc_q" != max ] && [ "$_wc_p" -gt 0 ]; then
      _wc_c=$(( (_wc_q + _wc_p - 1) / _wc_p ))
      [ "$_wc_c" -lt "$_wc_n" ] && _wc_n=$_wc_c
    fi
    [ "$_wc_cg" = / ] && break
    _wc_cg=$(dirname "$_wc_cg")
  done
  [ "$_wc_n" -ge 1 ] 2>/dev/null || _wc_n=1
  export WEB_CONCURRENCY=$_wc_n
  unset _wc_n _wc_cg _wc_q _wc_p _wc_c
fi
`;

export const PYTHON_DETECT = String.raw`#!/usr/bin/env bash
# heroku/python: requirements.txt, Pipfile.lock, poetry.lock, uv.lock, pyproject.toml or setup.py at the root.
cd "$1" || exit 1
for f in requirements.txt Pipfile.lock Pipfile poetry.lock uv.lock pyproject.toml setup.py; do
  if [ -f "$f" ]; then echo Python; exit 0; fi
done
exit 1
`;

export const PYTHON_COMPILE = String.raw`#!/usr/bin/env bash
# heroku/python (dynoform): Debian's python3, a venv at .heroku/python inside the slug, pip with its
# cache in CACHE_DIR, Django's collectstatic.
` + PRELUDE + String.raw`
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || fail "python3 is not installed on the control host: install Debian's python3 and python3-venv there (components/control installs them)"
available=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
available_minor=$(echo "$available" | cut -d. -f1,2)
cd "$BUILD_DIR"

if [ ! -f Procfile ]; then
  fail "No Procfile: Python apps need one to say how they start. Add a Procfile with a line such as \"web: gunicorn app:app\" (gunicorn in requirements.txt) and push again"
fi

requested=""
from=""
if [ -f .python-version ]; then
  requested=$(grep -v '^[[:space:]]*#' .python-version | grep -v '^[[:space:]]*$' | head -n1 | tr -d '[:space:]')
  from=.python-version
elif [ -f runtime.txt ]; then
  requested=$(head -n1 runtime.txt | tr -d '[:space:]' | sed 's/^python-//')
  from=runtime.txt
fi
if [ -n "$requested" ]; then
  requested_minor=$(echo "$requested" | cut -d. -f1,2)
  if [ "$requested_minor" != "$available_minor" ]; then
    fail "$from asks for Python $requested, but this platform runs Python $available (Debian's python3, the same on the dyno hosts): set $from to $available_minor, or remove it, and push again"
  fi
  topic "Using Python $available (Debian's python3; $from asks for $requested)"
  if [ "$requested" != "$requested_minor" ] && [ "$requested" != "$available" ]; then
    info "Warning: $from asks for Python $requested exactly; $available of the same $available_minor series is used"
  fi
else
  topic "Using Python $available (Debian's python3; pin it with a .python-version file containing $available_minor)"
fi

VENV="$BUILD_DIR/.heroku/python"
rm -rf "$VENV"
mkdir -p "$BUILD_DIR/.heroku"
# The venv of the last build is reused when the interpreter and the dependency files are the same
# (pip then only checks them); pip's own cache covers the rest.
cache_key="$available $({ cat requirements.txt Pipfile.lock poetry.lock uv.lock pyproject.toml setup.py 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)"
if [ -d "$CACHE_DIR/venv" ] && [ "$(cat "$CACHE_DIR/venv.key" 2>/dev/null)" = "$cache_key" ]; then
  info "Using the cached virtual environment (Python and the dependency files are unchanged)"
  cp -a "$CACHE_DIR/venv" "$VENV"
else
info "Creating the virtual environment in .heroku/python"
# --copies: slugs carry no absolute symbolic link (dyno hosts refuse them); the copy finds the
# standard library of the dyno host's python3 (the same Debian package) through pyvenv.cfg.
if ! "$PYTHON" -m venv --copies "$VENV" 2>&1 | indent; then
  fail "python3 -m venv failed: install Debian's python3-venv on the control host"
fi
for f in "$VENV"/bin/python "$VENV"/bin/python3.*; do
  [ -f "$f" ] && ln -sfn python3 "$f"
done
fi
export PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV"
export PIP_CACHE_DIR="$CACHE_DIR/pip" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off PYTHONUNBUFFERED=1
# pip trusts its own CA list, not the host's: the system bundle carries the CAs the control host
# was told to trust (a TLS-intercepting proxy, a private index).
if [ -z "$PIP_CERT" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then export PIP_CERT=/etc/ssl/certs/ca-certificates.crt; fi
if [ -d "$PIP_CACHE_DIR" ]; then info "Using pip's cache from earlier builds"; fi

pip_install() {
  info "Running pip install $*"
  if ! python -m pip install "$@" 2>&1 | indent; then
    fail "pip install failed: see the last lines of pip's output above, fix the dependency and push again"
  fi
}

if [ -f requirements.txt ]; then
  topic "Installing requirements with pip"
  pip_install -r requirements.txt
elif [ -f Pipfile.lock ]; then
  topic "Installing dependencies from Pipfile.lock with pip"
  python - > "$TMPDIR/requirements.txt" <<'PY'
import json
lock = json.load(open("Pipfile.lock"))
for name, spec in sorted(lock.get("default", {}).items()):
    if "version" in spec:
        line = name + spec["version"]
    elif "git" in spec:
        line = "%s @ git+%s%s" % (name, spec["git"], ("@" + spec["ref"]) if spec.get("ref") else "")
    elif "path" in spec or "file" in spec:
        line = spec.get("path") or spec.get("file")
    else:
        line = name
    if spec.get("markers"):
        line += " ; " + spec["markers"]
    print(line)
PY
  pip_install -r "$TMPDIR/requirements.txt"
elif [ -f pyproject.toml ] || [ -f setup.py ]; then
  lock=""
  for f in uv.lock poetry.lock; do [ -f "$f" ] && lock=$f; done
  topic "Installing the project (pyproject.toml) with pip"
  if [ -n "$lock" ]; then
    info "Warning: $lock is not read (pip installs pyproject.toml's dependency ranges): for pinned versions commit a requirements.txt (uv export --no-hashes -o requirements.txt, or poetry export -o requirements.txt)"
  fi
  pip_install .
elif [ -f Pipfile ]; then
  fail "Pipfile without Pipfile.lock: run \"pipenv lock\", commit Pipfile.lock and push again"
fi

# Console scripts (gunicorn...) name the venv's python by its build path: the slug runs elsewhere
# ($HOME on the dyno host), where .profile.d puts the venv's bin first on PATH.
for f in "$VENV"/bin/*; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  head -c 2 "$f" | grep -q '^#!' || continue
  sed -i -e "1s|^#!$VENV/bin/python[0-9.]*\$|#!/usr/bin/env python3|" -e "2s|^'''exec' [\"']$VENV/bin/python[0-9.]*[\"']|'''exec' python3|" "$f"
done
rm -f "$VENV"/bin/activate*
rm -rf "$CACHE_DIR/venv" "$CACHE_DIR/venv.key"
cp -a "$VENV" "$CACHE_DIR/venv" && echo "$cache_key" > "$CACHE_DIR/venv.key"

if [ -f manage.py ] && python -c 'import django' >/dev/null 2>&1; then
  if [ -n "$DISABLE_COLLECTSTATIC" ] && [ "$DISABLE_COLLECTSTATIC" != 0 ]; then
    info "DISABLE_COLLECTSTATIC is set: collectstatic skipped"
  else
    topic "\$ python manage.py collectstatic --noinput"
    if ! python manage.py collectstatic --noinput 2>&1 | indent; then
      fail "Error while running '\$ python manage.py collectstatic --noinput': fix the error above, or skip the step with \"dynoform config:set DISABLE_COLLECTSTATIC=1\""
    fi
  fi
fi

mkdir -p .profile.d
cat > .profile.d/python.sh <<'SH'
export PATH="$HOME/.heroku/python/bin:$PATH"
export VIRTUAL_ENV="$HOME/.heroku/python"
export PYTHONUNBUFFERED=true
SH
cat >> .profile.d/python.sh <<'SH'
` + WEB_CONCURRENCY_PROFILE + String.raw`SH
`;

export const PYTHON_RELEASE = String.raw`#!/usr/bin/env bash
# Python has no default process type: the Procfile says how the app starts.
echo "--- {}"
`;

export const RUBY_DETECT = String.raw`#!/usr/bin/env bash
# heroku/ruby: a Gemfile at the root.
if [ -f "$1/Gemfile" ]; then echo Ruby; exit 0; fi
exit 1
`;

export const RUBY_COMPILE = String.raw`#!/usr/bin/env bash
# heroku/ruby (dynoform): Debian's ruby and bundler, gems in vendor/bundle inside the slug (cached in
# CACHE_DIR), BUNDLE_WITHOUT=development:test, rake assets:precompile when the Rakefile has it.
` + PRELUDE + String.raw`
command -v ruby >/dev/null || fail "ruby is not installed on the control host: install Debian's ruby and bundler there (components/control installs them)"
command -v bundle >/dev/null || fail "bundler is not installed on the control host: install Debian's bundler there (components/control installs it)"
available=$(ruby -e 'print RUBY_VERSION')
available_minor=$(echo "$available" | cut -d. -f1,2)
cd "$BUILD_DIR"

requested=""
from=""
if [ -f .ruby-version ]; then
  requested=$(head -n1 .ruby-version | tr -d '[:space:]' | sed 's/^ruby-//')
  from=.ruby-version
else
  requested=$(sed -n -E "s/^[[:space:]]*ruby[[:space:]]+['\"]([^'\"]+)['\"].*/\1/p" Gemfile | head -n1 | sed -E 's/[^0-9.]//g')
  [ -n "$requested" ] && from=Gemfile
fi
if [ -n "$requested" ]; then
  requested_minor=$(echo "$requested" | cut -d. -f1,2)
  if [ "$requested_minor" != "$available_minor" ]; then
    fail "$from asks for Ruby $requested, but this platform runs Ruby $available (Debian's ruby, the same on the dyno hosts): ask for $available_minor (or remove the version) and push again"
  fi
  topic "Using Ruby version: ruby-$available (Debian's ruby; $from asks for $requested)"
else
  topic "Using Ruby version: ruby-$available (Debian's ruby)"
fi

[ -n "$BUNDLE_WITHOUT" ] || BUNDLE_WITHOUT=development:test
export BUNDLE_WITHOUT
unset BUNDLE_PATH
bundler_version=$(bundle -v | sed 's/[^0-9.]//g')
topic "Installing dependencies using bundler $bundler_version"
info "BUNDLE_WITHOUT='$BUNDLE_WITHOUT'"
install_args="--jobs=4 --retry=3"
if [ "$BUNDLE_PATH__SYSTEM" = true ]; then
  # Gems the host already has (Debian's ruby-* packages): nothing can be installed by the build
  # user there, and the dyno hosts must have the same packages.
  info "BUNDLE_PATH__SYSTEM=true: using the gems installed on the host (Debian's ruby-* packages); the dyno hosts need the same packages"
  install_args="$install_args --local"
else
  bundle config set --local path vendor/bundle >/dev/null
  if [ -d "$CACHE_DIR/vendor/bundle" ]; then
    info "Restoring the bundle from the build cache"
    mkdir -p vendor
    rm -rf vendor/bundle
    cp -a "$CACHE_DIR/vendor/bundle" vendor/bundle
  fi
fi
bundle config set --local without "$BUNDLE_WITHOUT" >/dev/null
if [ -f Gemfile.lock ]; then bundle config set --local frozen true >/dev/null; fi
info "Running: bundle install $install_args"
# shellcheck disable=SC2086
if ! bundle install $install_args 2>&1 | indent; then
  fail "bundle install failed: see the last lines of its output above, fix the Gemfile (and Gemfile.lock) and push again"
fi
if [ -d vendor/bundle ] && [ "$BUNDLE_PATH__SYSTEM" != true ]; then
  bundle clean >/dev/null 2>&1 || true
  rm -rf "$CACHE_DIR/vendor/bundle"
  mkdir -p "$CACHE_DIR/vendor"
  cp -a vendor/bundle "$CACHE_DIR/vendor/bundle"
fi

if [ -f Rakefile ] && bundle exec rake -P 2>/dev/null | grep -q '^rake assets:precompile$'; then
  topic "Running: rake assets:precompile"
  if ! RACK_ENV=production RAILS_ENV=production bundle exec rake assets:precompile 2>&1 | indent; then
    fail "rake assets:precompile failed: fix the error above and push again"
  fi
fi

mkdir -p .profile.d
cat > .profile.d/ruby.sh <<'SH'
export PATH="$HOME/bin:$PATH"
[ -n "$RACK_ENV" ] || export RACK_ENV=production
[ -n "$RAILS_ENV" ] || export RAILS_ENV=production
[ -n "$BUNDLE_WITHOUT" ] || export BUNDLE_WITHOUT=development:test
SH
cat >> .profile.d/ruby.sh <<'SH'
` + WEB_CONCURRENCY_PROFILE + String.raw`SH
`;

export const RUBY_RELEASE = String.raw`#!/usr/bin/env bash
# A Rack app (config.ru) with no Procfile web type runs under rackup.
if [ -f "$1/config.ru" ]; then
  printf -- '---\ndefault_process_types:\n  web: bundle exec rackup -p $PORT\n'
else
  echo "--- {}"
fi
`;
