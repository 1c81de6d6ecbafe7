#!/usr/bin/env bash
# deploy/dev/services.sh - find or start PostgreSQL and Redis for local dev/test.
#
# Usage: deploy/dev/services.sh [up|stop] [--require-redis]
#
#   up     (default) Find a reachable PostgreSQL (required) and Redis (optional
#          unless --require-redis), starting private instances under
#          $ROOT/.data/ when needed. Prints ONLY shell `export` lines on stdout:
#              env="$(deploy/dev/services.sh up)" || exit 1; eval "$env"
#          All messages go to stderr, prefixed "services: ".
#   stop   Stop the private instances this script started. Never touches
#          system services.
#
# Lookup order, PostgreSQL:
#   1. $DATABASE_URL, if its server is reachable (re-exported unchanged)
#   2. a server on 127.0.0.1:${OPENCLAW_PG_DEFAULT_PORT:-5432}
#      (skipped, with a warning, if psql shows it refuses passwordless login
#      as user postgres)
#   3. a private instance: $ROOT/.data/postgres (or, when running as root and
#      the repo is not traversable by the postgres user,
#      /var/tmp/openclaw-dev-<hash>/postgres), 127.0.0.1 only, port
#      ${OPENCLAW_PG_PRIVATE_PORT:-55432}, trust auth, superuser "postgres"
# Lookup order, Redis:
#   1. $REDIS_URL, if it answers PING
#   2. 127.0.0.1:${OPENCLAW_REDIS_DEFAULT_PORT:-6379}
#   3. a private redis-server on 127.0.0.1:${OPENCLAW_REDIS_PRIVATE_PORT:-56379},
#      data in $ROOT/.data/redis (no persistence)
#
# Other knobs: OPENCLAW_DB_NAME (default "openclaw").

set -euo pipefail

# The real stdout is kept on fd 3 and used only for the export lines; anything
# any command prints ends up on stderr.
exec 3>&1 1>&2

PROG=services
say()  { printf '%s: %s\n' "$PROG" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
# Quote for POSIX sh (single quotes).
sq()   { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
# Exports are collected and printed only once everything succeeded, so a
# failing run prints nothing on stdout.
EXPORTS=''
emit() { EXPORTS+="export $1=$(sq "$2")"$'\n'; }
# The server URL found (a superuser's) becomes the migrator's: `openclaw migrate` owns the
# schema through it and creates the app role. The services get the same server and database
# as the app role `openclaw_app`, which row-level security binds (docs/architecture.md).
emit_pg() { # server-url
    emit OPENCLAW_MIGRATOR_URL "$1"
    emit DATABASE_URL "$(app_url "$1")"
}
# postgres://user[:password]@host:port/db?query -> the same as openclaw_app, with
# $OPENCLAW_APP_DB_PASSWORD when set (URL-encode it yourself if it needs encoding).
app_url() { # url
    local scheme=${1%%://*} rest=${1#*://} authority
    authority=${rest%%[/?]*}
    printf '%s://openclaw_app%s@%s%s' "$scheme" "${OPENCLAW_APP_DB_PASSWORD:+:$OPENCLAW_APP_DB_PASSWORD}" \
        "${authority##*@}" "${rest#"$authority"}"
}
have() { command -v "$1" >/dev/null 2>&1; }

usage() {
    cat >&2 <<'EOF'
Usage: deploy/dev/services.sh [up|stop] [--require-redis]

  up               (default) find or start PostgreSQL and Redis; print
                   `export OPENCLAW_MIGRATOR_URL=...` (the migrator: a superuser),
                   `export DATABASE_URL=...` (the app role, openclaw_app) and
                   `export REDIS_URL=...` on stdout
  stop             stop the private instances started by this script
  --require-redis  fail (instead of warn) when Redis cannot be found or started

Environment: DATABASE_URL, OPENCLAW_MIGRATOR_URL, OPENCLAW_APP_DB_PASSWORD, REDIS_URL, OPENCLAW_DB_NAME (openclaw),
  OPENCLAW_PG_DEFAULT_PORT (5432), OPENCLAW_PG_PRIVATE_PORT (55432),
  OPENCLAW_REDIS_DEFAULT_PORT (6379), OPENCLAW_REDIS_PRIVATE_PORT (56379)
EOF
}

# ---------------------------------------------------------------- arguments
ACTION=up
REQUIRE_REDIS=0
for arg in "$@"; do
    case $arg in
        up|stop) ACTION=$arg ;;
        --require-redis) REQUIRE_REDIS=1 ;;
        -h|--help|help) usage; exit 0 ;;
        *) usage; die "unknown argument: $arg" ;;
    esac
done

# ------------------------------------------------------------ configuration
ROOT=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
DATA_DIR=$ROOT/.data
DB_NAME=${OPENCLAW_DB_NAME:-openclaw}
PG_DEFAULT_PORT=${OPENCLAW_PG_DEFAULT_PORT:-5432}
PG_PRIVATE_PORT=${OPENCLAW_PG_PRIVATE_PORT:-55432}
REDIS_DEFAULT_PORT=${OPENCLAW_REDIS_DEFAULT_PORT:-6379}
REDIS_PRIVATE_PORT=${OPENCLAW_REDIS_PRIVATE_PORT:-56379}
for _p in "$PG_DEFAULT_PORT" "$PG_PRIVATE_PORT" "$REDIS_DEFAULT_PORT" "$REDIS_PRIVATE_PORT"; do
    if ! [[ $_p =~ ^[0-9]+$ ]] || [ "$_p" -lt 1 ] || [ "$_p" -gt 65535 ]; then
        die "invalid port number: '$_p'"
    fi
done

MY_UID=$(id -u)
MY_USER=$(id -un 2>/dev/null || echo "$MY_UID")
SUDO=''
[ "$MY_UID" -eq 0 ] || SUDO='sudo '

# Where a private PostgreSQL lives when $ROOT is not usable by the postgres user.
if have sha256sum; then
    PG_FALLBACK_BASE=/var/tmp/openclaw-dev-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
else
    PG_FALLBACK_BASE=/var/tmp/openclaw-dev-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
fi

REDIS_DIR=$DATA_DIR/redis
REDIS_PIDFILE=$REDIS_DIR/redis.pid
REDIS_PORTFILE=$REDIS_DIR/redis.port
REDIS_LOG=$REDIS_DIR/redis.log

# ------------------------------------------------------------------ helpers
# Newest /usr/lib/postgresql/<ver>/bin/<tool>, else <tool> on PATH. The
# versioned binaries are preferred because Debian's /usr/bin ones are a perl
# wrapper (slower, and broken when no client version is installed).
find_pg_tool() {
    local tool=$1 d
    local -a dirs=()
    if compgen -G '/usr/lib/postgresql/*/bin' >/dev/null; then
        mapfile -t dirs < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
    fi
    for d in "${dirs[@]}"; do
        if [ -x "$d/$tool" ]; then printf '%s\n' "$d/$tool"; return 0; fi
    done
    command -v "$tool" 2>/dev/null
}

PG_ISREADY=$(find_pg_tool pg_isready || true)
PSQL=$(find_pg_tool psql || true)
REDIS_CLI=$(command -v redis-cli 2>/dev/null || true)

tcp_open() { # host port
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 3 bash -c 'exec 5<>"/dev/tcp/$1/$2"' _ "$1" "$2" </dev/null >/dev/null 2>&1 3>&-
}

# Split scheme://[user[:pass]@]host[:port][/...] into U_* variables.
parse_url() { # url default_port
    local url=$1 rest hostport userinfo=''
    U_SCHEME=${url%%://*} U_USER='' U_PASS='' U_HOST='' U_PORT=''
    [ "$U_SCHEME" != "$url" ] || return 1
    rest=${url#*://}
    rest=${rest%%[/?#]*}
    if [[ $rest == *@* ]]; then userinfo=${rest%@*}; hostport=${rest##*@}; else hostport=$rest; fi
    if [[ $userinfo == *:* ]]; then U_USER=${userinfo%%:*}; U_PASS=${userinfo#*:}; else U_USER=$userinfo; fi
    if [[ $hostport == \[* ]]; then
        U_HOST=${hostport%%]*}; U_HOST=${U_HOST#[}
        rest=${hostport#*]}; U_PORT=${rest#:}
    else
        U_HOST=${hostport%%:*}
        if [[ $hostport == *:* ]]; then U_PORT=${hostport#*:}; fi
    fi
    [ -n "$U_PORT" ] || U_PORT=$2
    # percent-decode credentials
    printf -v U_USER '%b' "${U_USER//%/\\x}"
    printf -v U_PASS '%b' "${U_PASS//%/\\x}"
}

# 0 = accepting connections, 1 = not, 2 = cannot tell
pg_ready_url() {
    if [ -n "$PG_ISREADY" ]; then
        "$PG_ISREADY" -q -t 3 -d "$1" </dev/null 3>&- && return 0 || return 1
    fi
    parse_url "$1" 5432 || return 2
    [ -n "$U_HOST" ] && [[ $U_HOST != /* ]] && [[ $U_PORT =~ ^[0-9]+$ ]] || return 2
    tcp_open "$U_HOST" "$U_PORT"
}

pg_ready_port() { # port on 127.0.0.1
    if [ -n "$PG_ISREADY" ]; then
        "$PG_ISREADY" -q -t 3 -h 127.0.0.1 -p "$1" </dev/null 3>&-
    else
        tcp_open 127.0.0.1 "$1"
    fi
}

wait_pg_ready() { # port seconds
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        pg_ready_port "$1" && return 0
        sleep 0.2
    done
    return 1
}

# Returns 0 when login as postgres without a password works or cannot be
# checked, 1 (and sets PG_AUTH_ERR) when the server clearly refuses it.
PG_AUTH_ERR=''
pg_auth_ok() { # port
    [ -n "$PSQL" ] || return 0
    local out
    if out=$(PGCONNECT_TIMEOUT=3 "$PSQL" -w -X -q -At \
            -d "postgres://postgres@127.0.0.1:$1/postgres" -c 'select 1' </dev/null 2>&1 3>&-); then
        return 0
    fi
    case $out in
        *"password authentication failed"*|*"no password supplied"*|*"authentication failed"*|\
        *"does not exist"*role*|*role*"does not exist"*|*"pg_hba.conf"*)
            PG_AUTH_ERR=$(printf '%s' "$out" | head -n1)
            return 1 ;;
    esac
    return 0
}

redis_raw_ping() { # host port [user] [pass]
    # shellcheck disable=SC2016  # expanded by the inner bash
    LC_ALL=C timeout 3 bash -c '
        exec 5<>"/dev/tcp/$1/$2" || exit 1
        n=1
        if [ -n "${4:-}" ]; then
            n=2
            if [ -n "${3:-}" ]; then
                printf "*3\r\n\$4\r\nAUTH\r\n\$%d\r\n%s\r\n\$%d\r\n%s\r\n" "${#3}" "$3" "${#4}" "$4" >&5
            else
                printf "*2\r\n\$4\r\nAUTH\r\n\$%d\r\n%s\r\n" "${#4}" "$4" >&5
            fi
        fi
        printf "PING\r\n" >&5
        for ((i = 0; i < n; i++)); do
            IFS= read -r -t 3 line <&5 || exit 1
            case $line in +PONG*) exit 0 ;; esac
        done
        exit 1' _ "$@" </dev/null >/dev/null 2>&1 3>&-
}

redis_ping_port() { # port on 127.0.0.1
    if [ -n "$REDIS_CLI" ]; then
        [ "$(timeout 3 "$REDIS_CLI" -h 127.0.0.1 -p "$1" ping </dev/null 2>/dev/null 3>&-)" = PONG ]
    else
        redis_raw_ping 127.0.0.1 "$1"
    fi
}

# 0 = answers PING, 1 = not, 2 = cannot tell. Plain redis:// is checked with
# bash's /dev/tcp even when redis-cli exists: redis-cli 7.0 mishandles
# "redis://:password@host" URLs. TLS (rediss://) needs redis-cli.
redis_ping_url() {
    local url=$1
    case $url in
        redis://*) ;;
        rediss://*)
            [ -n "$REDIS_CLI" ] || return 2
            [ "$(timeout 3 "$REDIS_CLI" --no-auth-warning -u "$url" ping </dev/null 2>/dev/null 3>&-)" = PONG ] \
                && return 0 || return 2 ;;
        *) return 2 ;;
    esac
    parse_url "$url" 6379 || return 2
    [ -n "$U_HOST" ] && [[ $U_PORT =~ ^[0-9]+$ ]] || return 2
    redis_raw_ping "$U_HOST" "$U_PORT" "$U_USER" "$U_PASS" && return 0 || return 1
}

wait_redis_ready() { # port seconds
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        redis_ping_port "$1" && return 0
        sleep 0.2
    done
    return 1
}

# Run a command as another user (for PostgreSQL, which refuses to run as
# root). The working directory is / so an untraversable cwd does not matter.
as_user() { # user cmd...
    local user=$1; shift
    if [ "$user" = "$MY_USER" ]; then
        (cd / && "$@")
    elif [ "$MY_UID" -ne 0 ]; then
        die "cannot run '$1' as user '$user' without root; run as '$user' or remove the data directory"
    elif have runuser; then
        (cd / && runuser -u "$user" -- "$@")
    else
        local cmd
        printf -v cmd '%q ' "$@"
        (cd / && su "$user" -s /bin/bash -c "$cmd")
    fi
}

LOCKED=0
take_lock() {
    [ "$LOCKED" -eq 0 ] || return 0
    mkdir -p "$DATA_DIR" || die "cannot create $DATA_DIR"
    if have flock; then
        exec 9>"$DATA_DIR/.services.lock"
        flock -w 120 9 || die "timed out waiting for another services.sh (lock $DATA_DIR/.services.lock)"
    fi
    LOCKED=1
}

tail_log() { # file
    if [ -r "$1" ]; then
        say "last lines of $1:"
        tail -n 15 "$1" | sed "s/^/$PROG:   /" >&2
    fi
}

proc_comm() { # pid -> prints comm or fails
    local c
    [ -r "/proc/$1/comm" ] && IFS= read -r c <"/proc/$1/comm" && printf '%s' "$c"
}

# ------------------------------------------------------- private PostgreSQL
# If a private postmaster of ours is alive, set PG_BASE and PG_RUN_PORT.
pg_private_running() {
    local base pidfile pid port comm
    local -a lines
    for base in "$DATA_DIR" "$PG_FALLBACK_BASE"; do
        pidfile=$base/postgres/postmaster.pid
        [ -r "$pidfile" ] || continue
        mapfile -t lines <"$pidfile" || continue
        pid=${lines[0]:-} port=${lines[3]:-}
        [[ $pid =~ ^[0-9]+$ && $port =~ ^[0-9]+$ ]] || continue
        comm=$(proc_comm "$pid") || continue
        case $comm in postgres|postmaster) ;; *) continue ;; esac
        PG_BASE=$base PG_RUN_PORT=$port
        return 0
    done
    return 1
}

# Existing private cluster (running or not): sets PG_BASE.
pg_private_existing() {
    local base
    for base in "$DATA_DIR" "$PG_FALLBACK_BASE"; do
        if [ -e "$base/postgres/PG_VERSION" ]; then PG_BASE=$base; return 0; fi
    done
    return 1
}

pg_major_of() { # path to pg_ctl -> major version ("15", "9.6")
    local v
    v=$("$1" --version 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+)*' | head -n1) || return 1
    [ -n "$v" ] || return 1
    if [ "${v%%.*}" -ge 10 ]; then printf '%s' "${v%%.*}"; else printf '%s' "$(cut -d. -f1-2 <<<"$v")"; fi
}

# Pick initdb/pg_ctl: matching $1 (major) if given, else the newest. Sets
# PG_BIN_INITDB, PG_BIN_CTL, PG_BIN_MAJOR.
pg_find_bins() { # [wanted_major]
    local want=${1:-} d c i m best='' bestm=''
    local -a cands=()
    if compgen -G '/usr/lib/postgresql/*/bin' >/dev/null; then
        for d in /usr/lib/postgresql/*/bin; do cands+=("$d/initdb|$d/pg_ctl"); done
    fi
    if have initdb && have pg_ctl; then cands+=("$(command -v initdb)|$(command -v pg_ctl)"); fi
    for c in "${cands[@]}"; do
        i=${c%%|*} d=${c#*|}
        if [ ! -x "$i" ] || [ ! -x "$d" ]; then continue; fi
        m=$(pg_major_of "$d") || continue
        if [ -n "$want" ]; then
            [ "$m" = "$want" ] || continue
            best=$c bestm=$m; break
        fi
        if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$bestm" "$m" | sort -V | tail -n1)" != "$bestm" ]; then
            best=$c bestm=$m
        fi
    done
    [ -n "$best" ] || return 1
    PG_BIN_INITDB=${best%%|*} PG_BIN_CTL=${best#*|} PG_BIN_MAJOR=$bestm
}

pg_install_hint() {
    say "install PostgreSQL with:  ${SUDO}apt-get install -y postgresql"
    say "(or set DATABASE_URL to a reachable server)"
}

ensure_postgres_user() {
    id -u postgres >/dev/null 2>&1 && return 0
    have useradd || die "no 'postgres' system user and no useradd to create it; ${SUDO}apt-get install -y passwd postgresql"
    say "postgres: creating system user 'postgres' (PostgreSQL refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
        --shell /bin/bash postgres || die "useradd postgres failed"
}

# Make $1 a directory owned by $2 (mode 700). Fails if chown does not stick.
own_dir() { # dir user
    mkdir -p "$1" || return 1
    if [ "$2" != "$MY_USER" ]; then
        chown "$2:" "$1" 2>/dev/null || return 1
        [ "$(stat -c %U "$1")" = "$2" ] || return 1
    fi
    chmod 700 "$1"
}

# Decide where a NEW private cluster goes; sets PG_BASE and PG_USER.
pg_choose_new_location() {
    PG_BASE=$DATA_DIR PG_USER=$MY_USER
    [ "$MY_UID" -eq 0 ] || return 0
    ensure_postgres_user
    PG_USER=postgres
    mkdir -p "$DATA_DIR"
    if as_user postgres test -x "$DATA_DIR" 2>/dev/null && own_dir "$DATA_DIR/postgres" postgres; then
        return 0
    fi
    rmdir "$DATA_DIR/postgres" 2>/dev/null || true
    PG_BASE=$PG_FALLBACK_BASE
    say "postgres: $DATA_DIR is not usable by the 'postgres' user (e.g. repo under /root);"
    say "postgres: putting the private instance in $PG_BASE instead"
}

pg_prepare_fallback_base() {
    [ "$PG_BASE" = "$PG_FALLBACK_BASE" ] || return 0
    if [ -L "$PG_BASE" ] || { [ -e "$PG_BASE" ] && [ ! -d "$PG_BASE" ]; }; then
        die "$PG_BASE exists and is not a plain directory; remove it"
    fi
    if [ -d "$PG_BASE" ]; then
        local o
        o=$(stat -c %U "$PG_BASE")
        [ "$o" = "$PG_USER" ] || [ "$o" = root ] || die "$PG_BASE is owned by '$o', not '$PG_USER'; remove it"
    fi
    own_dir "$PG_BASE" "$PG_USER" || die "cannot create $PG_BASE for user $PG_USER"
}

# The app creates its database itself; for our own instance we do it anyway
# so that `psql "$DATABASE_URL"` works straight away.
pg_ensure_db() { # port
    [ -n "$PSQL" ] || return 0
    local url="postgres://postgres@127.0.0.1:$1/postgres" lit ident
    lit=${DB_NAME//\'/\'\'} ident=${DB_NAME//\"/\"\"}
    if [ "$("$PSQL" -w -X -q -At -d "$url" -c "select 1 from pg_database where datname = '$lit'" </dev/null 2>/dev/null 3>&-)" != 1 ]; then
        if "$PSQL" -w -X -q -d "$url" -c "create database \"$ident\"" </dev/null >/dev/null 2>&1 3>&-; then
            say "postgres: created database $DB_NAME"
        else
            warn "postgres: could not create database $DB_NAME (the app will try)"
        fi
    fi
}

pg_start_private() {
    local port=$PG_PRIVATE_PORT data sock log opts out ver new=0 pid comm
    take_lock
    # someone may have started it while we waited for the lock
    if pg_private_running && wait_pg_ready "$PG_RUN_PORT" 30; then
        say "postgres: reusing private instance on 127.0.0.1:$PG_RUN_PORT ($PG_BASE/postgres)"
        emit_pg "postgres://postgres@127.0.0.1:$PG_RUN_PORT/$DB_NAME"
        return 0
    fi

    if pg_private_existing; then
        data=$PG_BASE/postgres
        PG_USER=$(stat -c %U "$data")
        [ "$PG_USER" != root ] || die "$data is owned by root, PostgreSQL cannot run as root; remove $data"
        ver=$(head -n1 "$data/PG_VERSION")
        pg_find_bins "$ver" || {
            say "postgres: $data was created by PostgreSQL $ver, whose server binaries are not installed"
            die "install them (${SUDO}apt-get install -y postgresql-$ver) or remove $data to recreate it"
        }
        # A postmaster.pid naming a live non-postgres process (PID reused after
        # a reboot/container restart) would make the postmaster refuse to start.
        if [ -r "$data/postmaster.pid" ]; then
            pid=$(head -n1 "$data/postmaster.pid")
            if [[ $pid =~ ^[0-9]+$ ]] && comm=$(proc_comm "$pid"); then
                case $comm in postgres|postmaster) ;; *) rm -f "$data/postmaster.pid" ;; esac
            fi
        fi
        say "postgres: starting stopped private instance ($data)"
    else
        if ! pg_find_bins; then
            say "postgres: nothing reachable at 127.0.0.1:$PG_DEFAULT_PORT and no PostgreSQL server binaries (initdb, pg_ctl) found"
            pg_install_hint
            die "PostgreSQL is not available"
        fi
        new=1
        pg_choose_new_location
        pg_prepare_fallback_base
        data=$PG_BASE/postgres
        own_dir "$data" "$PG_USER" || die "cannot create $data owned by $PG_USER"
    fi

    if pg_ready_port "$port" || tcp_open 127.0.0.1 "$port"; then
        die "port 127.0.0.1:$port is already used by another server; set OPENCLAW_PG_PRIVATE_PORT to a free port"
    fi

    sock=$PG_BASE/postgres-socket
    log=$PG_BASE/postgres.log
    [ -d "$sock" ] || mkdir -p "$sock"
    [ -e "$log" ] || : >"$log"
    if [ "$PG_USER" != "$MY_USER" ]; then
        chown "$PG_USER:" "$sock" "$log" || die "cannot chown $sock $log to $PG_USER"
    fi
    chmod 700 "$sock"

    if [ "$new" -eq 1 ]; then
        say "postgres: initialising private instance (PostgreSQL $PG_BIN_MAJOR) in $data"
        if ! out=$(as_user "$PG_USER" "$PG_BIN_INITDB" -D "$data" -U postgres -A trust -E UTF8 --no-locale \
                </dev/null 2>&1 3>&- 9>&-); then
            printf '%s\n' "$out" | tail -n 20 | sed "s/^/$PROG:   /" >&2
            die "initdb failed"
        fi
    fi

    # Unix socket paths are limited to 107 bytes; go TCP-only if too long.
    local sockpath="$sock/.s.PGSQL.$port"
    if [ "${#sockpath}" -ge 100 ]; then
        warn "postgres: socket path too long ($sockpath); unix socket disabled, TCP only"
        opts="-c listen_addresses=127.0.0.1 -p $port -k ''"
    else
        opts="-c listen_addresses=127.0.0.1 -p $port -k $(sq "$sock")"
    fi

    # fd 3 (our stdout) and fd 9 (lock) must not leak into the daemon, or
    # "$(services.sh)" would never see EOF and the lock would never be freed.
    if ! out=$(as_user "$PG_USER" "$PG_BIN_CTL" -D "$data" -l "$log" -w -t 30 -o "$opts" start \
            </dev/null 2>&1 3>&- 9>&-); then
        printf '%s\n' "$out" | tail -n 5 | sed "s/^/$PROG:   /" >&2
        tail_log "$log"
        die "could not start the private PostgreSQL (data: $data, log: $log)"
    fi
    if ! wait_pg_ready "$port" 30; then
        tail_log "$log"
        die "private PostgreSQL did not accept connections on 127.0.0.1:$port within 30 s (log: $log)"
    fi
    say "postgres: started private instance on 127.0.0.1:$port (data: $data, log: $log)"
    pg_ensure_db "$port"
    emit_pg "postgres://postgres@127.0.0.1:$port/$DB_NAME"
}

# DATABASE_URL from the environment: with OPENCLAW_MIGRATOR_URL beside it (an operator's own
# pair, or a second `eval` in the same shell) both are kept; alone, it is taken as the server's
# (superuser) URL.
pg_emit_env() {
    if [ -n "${OPENCLAW_MIGRATOR_URL:-}" ]; then
        emit OPENCLAW_MIGRATOR_URL "$OPENCLAW_MIGRATOR_URL"
        emit DATABASE_URL "$DATABASE_URL"
    else
        emit_pg "$DATABASE_URL"
    fi
}

pg_up() {
    if [ -n "${DATABASE_URL:-}" ]; then
        local rc=0
        pg_ready_url "$DATABASE_URL" || rc=$?
        if [ "$rc" -eq 0 ]; then
            say "postgres: using DATABASE_URL from the environment"
            pg_emit_env
            return 0
        elif [ "$rc" -eq 2 ]; then
            warn "postgres: cannot check DATABASE_URL without pg_isready; using it as given"
            pg_emit_env
            return 0
        fi
        warn "postgres: DATABASE_URL is set but its server is not reachable; looking elsewhere"
    fi

    if pg_ready_port "$PG_DEFAULT_PORT"; then
        if pg_auth_ok "$PG_DEFAULT_PORT"; then
            say "postgres: using the server on 127.0.0.1:$PG_DEFAULT_PORT"
            emit_pg "postgres://postgres@127.0.0.1:$PG_DEFAULT_PORT/$DB_NAME"
            return 0
        fi
        warn "postgres: the server on 127.0.0.1:$PG_DEFAULT_PORT refuses passwordless login as 'postgres' ($PG_AUTH_ERR)"
        warn "postgres: using a private instance instead (or set DATABASE_URL with credentials)"
    fi

    if pg_private_running && wait_pg_ready "$PG_RUN_PORT" 30; then
        say "postgres: reusing private instance on 127.0.0.1:$PG_RUN_PORT"
        emit_pg "postgres://postgres@127.0.0.1:$PG_RUN_PORT/$DB_NAME"
        return 0
    fi

    pg_start_private
}

pg_stop() {
    local base data pid comm owner ver found=0 out
    for base in "$DATA_DIR" "$PG_FALLBACK_BASE"; do
        data=$base/postgres
        [ -e "$data/PG_VERSION" ] || continue
        found=1
        if [ ! -r "$data/postmaster.pid" ]; then
            if [ -e "$data/postmaster.pid" ]; then
                warn "postgres: cannot read $data/postmaster.pid (run as root or as its owner)"
            else
                say "postgres: private instance ($data) is not running"
            fi
            continue
        fi
        pid=$(head -n1 "$data/postmaster.pid")
        if ! comm=$(proc_comm "$pid") || { [ "$comm" != postgres ] && [ "$comm" != postmaster ]; }; then
            say "postgres: private instance ($data) is not running (stale postmaster.pid)"
            continue
        fi
        owner=$(stat -c %U "$data")
        ver=$(head -n1 "$data/PG_VERSION")
        if pg_find_bins "$ver"; then
            if out=$(as_user "$owner" "$PG_BIN_CTL" -D "$data" -m fast -w -t 60 stop </dev/null 2>&1 3>&- 9>&-); then
                say "postgres: stopped private instance ($data)"
                continue
            fi
            printf '%s\n' "$out" | tail -n 5 | sed "s/^/$PROG:   /" >&2
        fi
        # no matching pg_ctl (or it failed): fast shutdown is SIGINT to the postmaster
        say "postgres: sending SIGINT (fast shutdown) to postmaster $pid"
        kill -INT "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
        if [ -d "/proc/$pid" ]; then warn "postgres: postmaster $pid is still running"; else say "postgres: stopped private instance ($data)"; fi
    done
    [ "$found" -eq 1 ] || say "postgres: no private instance to stop"
}

# ------------------------------------------------------------ private Redis
redis_private_pid() { # prints pid of our running redis-server
    local pid comm
    [ -r "$REDIS_PIDFILE" ] || return 1
    pid=$(head -n1 "$REDIS_PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(proc_comm "$pid") || return 1
    [[ $comm == redis-server* || $comm == redis-check* ]] || return 1
    printf '%s' "$pid"
}

redis_fail() {
    if [ "$REQUIRE_REDIS" -eq 1 ]; then
        say "redis: $*"
        say "install Redis with:  ${SUDO}apt-get install -y redis-server   (or set REDIS_URL)"
        die "Redis is required (--require-redis) but not available"
    fi
    warn "redis: $*; REDIS_URL not exported (single-replica mode)"
    warn "redis: to enable it:  ${SUDO}apt-get install -y redis-server   (or set REDIS_URL)"
}

redis_reuse_private() {
    local p
    redis_private_pid >/dev/null || return 1
    p=$(head -n1 "$REDIS_PORTFILE" 2>/dev/null) || return 1
    [[ $p =~ ^[0-9]+$ ]] || return 1
    wait_redis_ready "$p" 10 || return 1
    say "redis: reusing private instance on 127.0.0.1:$p"
    emit REDIS_URL "redis://127.0.0.1:$p"
}

redis_up() {
    local rc=0 port rs out
    if [ -n "${REDIS_URL:-}" ]; then
        redis_ping_url "$REDIS_URL" || rc=$?
        if [ "$rc" -eq 0 ]; then
            say "redis: using REDIS_URL from the environment"
            emit REDIS_URL "$REDIS_URL"
            return 0
        elif [ "$rc" -eq 2 ]; then
            warn "redis: cannot check REDIS_URL here; using it as given"
            emit REDIS_URL "$REDIS_URL"
            return 0
        fi
        warn "redis: REDIS_URL is set but does not answer PING; looking elsewhere"
    fi

    if redis_ping_port "$REDIS_DEFAULT_PORT"; then
        say "redis: using the server on 127.0.0.1:$REDIS_DEFAULT_PORT"
        emit REDIS_URL "redis://127.0.0.1:$REDIS_DEFAULT_PORT"
        return 0
    fi

    redis_reuse_private && return 0

    rs=$(command -v redis-server 2>/dev/null) || {
        redis_fail "nothing answers on 127.0.0.1:$REDIS_DEFAULT_PORT and redis-server is not installed"
        return 0
    }

    take_lock
    redis_reuse_private && return 0

    port=$REDIS_PRIVATE_PORT
    if redis_ping_port "$port" || tcp_open 127.0.0.1 "$port"; then
        redis_fail "port 127.0.0.1:$port is already used by another server (set OPENCLAW_REDIS_PRIVATE_PORT)"
        return 0
    fi
    mkdir -p "$REDIS_DIR" || { redis_fail "cannot create $REDIS_DIR"; return 0; }
    rm -f "$REDIS_PIDFILE"
    printf '%s\n' "$port" >"$REDIS_PORTFILE"
    say "redis: starting private instance on 127.0.0.1:$port ($REDIS_DIR)"
    # The daemon reopens stdin/stdout/stderr on /dev/null; fds 3 (our stdout)
    # and 9 (lock) must not leak into it.
    if ! out=$(cd "$REDIS_DIR" && "$rs" --port "$port" --bind 127.0.0.1 --daemonize yes \
            --save '' --appendonly no --dir "$REDIS_DIR" \
            --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" \
            </dev/null 2>&1 3>&- 9>&-); then
        printf '%s\n' "$out" | tail -n 5 | sed "s/^/$PROG:   /" >&2
        tail_log "$REDIS_LOG"
        redis_fail "redis-server failed to start (log: $REDIS_LOG)"
        return 0
    fi
    if ! wait_redis_ready "$port" 10; then
        tail_log "$REDIS_LOG"
        redis_fail "private redis-server did not answer PING on 127.0.0.1:$port within 10 s"
        return 0
    fi
    say "redis: started private instance on 127.0.0.1:$port (log: $REDIS_LOG)"
    emit REDIS_URL "redis://127.0.0.1:$port"
}

redis_stop() {
    local pid port
    if ! pid=$(redis_private_pid); then
        say "redis: no private instance running"
        return 0
    fi
    port=$(head -n1 "$REDIS_PORTFILE" 2>/dev/null || true)
    if [ -n "$REDIS_CLI" ] && [[ $port =~ ^[0-9]+$ ]]; then
        timeout 5 "$REDIS_CLI" -h 127.0.0.1 -p "$port" shutdown nosave </dev/null >/dev/null 2>&1 3>&- || true
    fi
    if [ -d "/proc/$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
    for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    if [ -d "/proc/$pid" ]; then
        warn "redis: private redis-server $pid did not exit, killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$REDIS_PIDFILE"
    say "redis: stopped private instance${port:+ on 127.0.0.1:$port}"
}

# --------------------------------------------------------------------- main
case $ACTION in
    up)
        pg_up
        redis_up
        printf '%s' "$EXPORTS" >&3
        ;;
    stop)
        pg_stop
        redis_stop
        ;;
esac
