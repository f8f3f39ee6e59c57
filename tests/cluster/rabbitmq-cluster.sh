#!/usr/bin/env bash
# A local three-node RabbitMQ cluster for the reliability tests: three `rabbitmq-server` nodes
# on this machine, each with its own node name, AMQP and distribution ports, data and log
# folders, no plugins (so no management listener), and one Erlang cookie of the cluster's own,
# joined with `rabbitmqctl join_cluster`.
#
# The machine's own broker (port 5672, its node name and cookie from /etc/rabbitmq and
# /var/lib/rabbitmq) is never touched: the nodes and every CLI call made here run with a cleared
# environment, read no file under /etc/rabbitmq, and find their cookie in the cluster's base
# folder. They share the machine's epmd (port 4369), which only maps names to ports.
#
# Usage: tests/cluster/rabbitmq-cluster.sh COMMAND [ARG]
#   start             start the nodes that are down, join them, wait for 3 running members
#   stop              stop every node and remove the base folder
#   status            one line per node, then the running members; exit 1 unless all 3 run
#   kill NODE         SIGKILL the node's Erlang VM (beam.smp), no goodbye to its peers
#   restart NODE      stop the node gracefully if it runs (once no quorum queue depends on
#                     it), start it, wait until it is a running member of the cluster again
#   rolling-restart   restart 1, 2 and 3, one after the other
#   leader QUEUE      print the name of the node that leads quorum queue QUEUE
#   messages QUEUE    print the number of messages in QUEUE (ready and unacked), as a running
#                     node sees it
#   wait-members N [SECONDS]  wait until every running node sees N running members
#   ports             one line per node: name, AMQP port, distribution port
#   urls              the nodes' AMQP URLs, comma-separated (a value for amqp.url)
# NODE is 1, 2, 3, c1, c2, c3 or a full node name (as `leader` prints it).
#
# Environment (default):
#   RMQ_CLUSTER_DIR (/tmp/turnover-rabbitmq-cluster)  base folder, one subfolder per node
#   RMQ_CLUSTER_AMQP_PORT (5681)   AMQP port of node 1; node N listens on this + N - 1
#   RMQ_CLUSTER_DIST_PORT (25681)  distribution port of node 1; node N on this + N - 1
#   RMQ_CLUSTER_NAME (turnover-c)  node N is named ${RMQ_CLUSTER_NAME}N@localhost
#   RMQ_CLUSTER_VHOST (/)          virtual host `leader` looks in
#   RMQ_CLUSTER_TIMEOUT (180)      seconds any single wait may last before the command fails
#   RMQ_CLUSTER_ERL_ARGS (+S 1:1 +SDcpu 1:1)  extra VM flags; one scheduler per node so three
#                                  nodes leave the machine's two cores to the code under test
#   RMQ_CLUSTER_SBIN               folder of RabbitMQ's own scripts (found from rabbitmq-server)
set -euo pipefail

SIZE=3
DIR=${RMQ_CLUSTER_DIR:-/tmp/turnover-rabbitmq-cluster}
AMQP_PORT=${RMQ_CLUSTER_AMQP_PORT:-5681}
DIST_PORT=${RMQ_CLUSTER_DIST_PORT:-25681}
NAME=${RMQ_CLUSTER_NAME:-turnover-c}
HOST=localhost
VHOST=${RMQ_CLUSTER_VHOST:-/}
TIMEOUT=${RMQ_CLUSTER_TIMEOUT:-180}
ERL_ARGS=${RMQ_CLUSTER_ERL_ARGS:-+S 1:1 +SDcpu 1:1}
# `stop` deletes the base folder only when it holds this file, which only `start` writes.
MARKER=.turnover-rabbitmq-cluster
SBIN=""

say() { echo "rabbitmq-cluster: $*"; }
die() {
    echo "rabbitmq-cluster: error: $*" >&2
    exit 1
}
now() { date +%s; }

case "$DIR" in
/*) ;;
*) die "RMQ_CLUSTER_DIR must be an absolute path, not '$DIR'" ;;
esac
[ "$DIR" != / ] || die "RMQ_CLUSTER_DIR must not be /"

node_name() { echo "${NAME}$1@${HOST}"; }
node_dir() { echo "$DIR/c$1"; }
amqp_port() { echo $((AMQP_PORT + $1 - 1)); }
dist_port() { echo $((DIST_PORT + $1 - 1)); }

# NODE argument -> node index.
node_index() {
    local arg=${1:-} i
    for i in $(seq 1 "$SIZE"); do
        case "$arg" in
        "$i" | "c$i" | "${NAME}$i" | "$(node_name "$i")") echo "$i" && return 0 ;;
        esac
    done
    die "unknown node '$arg' (expected 1..$SIZE, c1..c$SIZE or ${NAME}1@$HOST..)"
}

# RabbitMQ's own scripts, not the distribution's wrappers in /usr/sbin: on Debian those switch
# to the `rabbitmq` user with its HOME, hence the machine broker's cookie and env file.
find_sbin() {
    if [ -n "${RMQ_CLUSTER_SBIN:-}" ]; then
        SBIN=$RMQ_CLUSTER_SBIN
    elif [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
        SBIN=/usr/lib/rabbitmq/bin
    elif command -v rabbitmq-server >/dev/null 2>&1; then
        SBIN=$(dirname "$(readlink -f "$(command -v rabbitmq-server)")")
    else
        return 1
    fi
    if [ ! -x "$SBIN/rabbitmq-server" ] || [ ! -x "$SBIN/rabbitmqctl" ]; then
        die "no rabbitmq-server and rabbitmqctl in $SBIN"
    fi
}

ensure_installed() {
    find_sbin && return 0
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "rabbitmq-server is missing; install it as root"
        sudo=sudo
    fi
    say "installing rabbitmq-server (apt-get)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rabbitmq-server >/dev/null
    find_sbin || die "rabbitmq-server is still not found after apt-get install"
}

need_sbin() { find_sbin || die "rabbitmq-server is not installed (run '$0 start' to install it)"; }

# The environment of a node and of the CLI calls that reach it, built from nothing (`env -i`)
# so that a RABBITMQ_* variable of the caller or /etc/rabbitmq/rabbitmq-env.conf cannot leak
# the machine broker's node name, port or cookie in. HOME is where Erlang reads the cookie.
# ERL_EPMD_ADDRESS only matters if no epmd runs yet and a node here starts it: loopback only.
# A VM that crashes writes erl_crash.dump in the base folder, not in the caller's directory.
base_env() {
    ENV=(PATH="$PATH" HOME="$DIR" LANG=C.UTF-8 LC_ALL=C.UTF-8 ERL_EPMD_ADDRESS=127.0.0.1
        ERL_CRASH_DUMP="$DIR/erl_crash.dump" RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf")
}
node_env() {
    local i=$1 d
    d=$(node_dir "$i")
    base_env
    ENV+=(
        RABBITMQ_NODENAME="$(node_name "$i")"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$(amqp_port "$i")"
        RABBITMQ_DIST_PORT="$(dist_port "$i")"
        RABBITMQ_MNESIA_BASE="$d/data"
        RABBITMQ_LOG_BASE="$d/log"
        RABBITMQ_PID_FILE="$d/rabbitmq.pid"
        RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
        RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
        RABBITMQ_CONFIG_FILES="$d/conf.d/*.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
        ERL_CRASH_DUMP="$d/log/erl_crash.dump"
        # Distribution on loopback only, like the AMQP listener.
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$ERL_ARGS -kernel inet_dist_use_interface {127,0,0,1}"
    )
}

# ctl TOOL NODE ARGS...: run rabbitmqctl, rabbitmq-diagnostics or rabbitmq-queues against node
# NODE with the cluster's cookie; `timeout` so that a hung node cannot hang the caller.
ctl() {
    local tool=$1 i=$2
    shift 2
    base_env
    timeout 120 env -i "${ENV[@]}" "$SBIN/$tool" -n "$(node_name "$i")" "$@"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid of node i's Erlang VM, or nothing. The pid file is what the node itself wrote
# (RABBITMQ_PID_FILE); before it exists, or if it is stale, the VM is recognised by the pid
# file path in its environment, which names this base folder and this node only.
is_node_vm() {
    local pid=$1 i=$2 comm
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
    [ "$comm" = beam.smp ] || return 1
    tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" |
        grep -xF "RABBITMQ_PID_FILE=$(node_dir "$i")/rabbitmq.pid" >/dev/null
}
vm_pid() {
    local i=$1 pid="" p f
    f="$(node_dir "$i")/rabbitmq.pid"
    if [ -r "$f" ]; then read -r pid 2>/dev/null <"$f" || true; fi
    if is_node_vm "$pid" "$i"; then
        echo "$pid"
        return 0
    fi
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        if is_node_vm "$pid" "$i"; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

# Folders, cookie and configuration; existing data is kept so that a node that was killed or
# stopped comes back as the same cluster member.
prepare() {
    local i d
    mkdir -p "$DIR"
    touch "$DIR/$MARKER"
    if [ ! -s "$DIR/.erlang.cookie" ]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/.erlang.cookie")
    fi
    chmod 400 "$DIR/.erlang.cookie"
    echo "# Intentionally empty: the nodes' settings are environment variables of the script." \
        >"$DIR/rabbitmq-env.conf"
    for i in $(seq 1 "$SIZE"); do
        d=$(node_dir "$i")
        mkdir -p "$d/data" "$d/log" "$d/conf.d"
        echo "[]." >"$d/enabled_plugins"
        cat >"$d/rabbitmq.conf" <<EOF
# Node c$i of the local test cluster, written by tests/cluster/rabbitmq-cluster.sh.
# Listener and distribution ports come from RABBITMQ_NODE_PORT and RABBITMQ_DIST_PORT.
log.file.level = info
log.console = false
EOF
    done
}

# Node i is down: its ports must be free, or some other process (the machine's broker, a
# cluster started from another base folder) holds them.
check_ports_free() {
    local i=$1 port
    for port in "$(amqp_port "$i")" "$(dist_port "$i")"; do
        if port_open "$port"; then
            die "port $port (c$i) is taken by another process; pick others with RMQ_CLUSTER_AMQP_PORT / RMQ_CLUSTER_DIST_PORT"
        fi
    done
}

launch() {
    local i=$1 d
    d=$(node_dir "$i")
    check_ports_free "$i"
    node_env "$i"
    rm -f "$d/rabbitmq.pid"
    # Detached with setsid, so that a Ctrl-C or a test harness killing our process group does not
    # take the node down with it; `-w` keeps the launcher pid alive as long as the node.
    (cd "$d" && exec setsid -w env -i "${ENV[@]}" "$SBIN/rabbitmq-server") \
        >>"$d/log/console.log" 2>&1 </dev/null &
    echo $! >"$d/launcher.pid"
    say "starting c$i ($(node_name "$i"), AMQP 127.0.0.1:$(amqp_port "$i"), distribution $(dist_port "$i"))"
}

# The launcher of node i is alive (checked by its command line: the pid may have been reused).
launcher_alive() {
    local pid=""
    read -r pid 2>/dev/null <"$(node_dir "$1")/launcher.pid" || return 1
    [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -F "$SBIN/rabbitmq-server" >/dev/null
}

log_tail() {
    local i=$1 d
    d=$(node_dir "$i")
    tail -n 15 "$d/log/console.log" "$d/log/$(node_name "$i").log" >&2 2>/dev/null || true
}

# Until node i's AMQP listener accepts connections (the last step of a RabbitMQ boot), then
# confirm with check_running. A TCP connect costs nothing; a CLI call costs a second of CPU.
wait_booted() {
    local i=$1 deadline=$(($(now) + TIMEOUT))
    while ! port_open "$(amqp_port "$i")"; do
        if ! vm_pid "$i" >/dev/null && ! launcher_alive "$i"; then
            log_tail "$i"
            die "c$i exited while booting (logs in $(node_dir "$i")/log)"
        fi
        [ "$(now)" -lt "$deadline" ] || die "c$i did not boot within ${TIMEOUT}s (logs in $(node_dir "$i")/log)"
        sleep 0.3
    done
    ctl rabbitmq-diagnostics "$i" -q check_running >/dev/null ||
        die "c$i accepts AMQP connections but its RabbitMQ application is not running"
}

# cluster_status of node i, as JSON on one line.
cluster_json() { ctl rabbitmqctl "$1" -q cluster_status --formatter json 2>/dev/null; }
# json_nodes KEY: the node names of a flat string array in the JSON on stdin.
json_nodes() {
    grep -o "\"$1\":\[[^]]*\]" | sed -e 's/^[^[]*\[//' -e 's/\]$//' -e 's/"//g' -e 's/,/ /g'
}
running_members() { cluster_json "$1" | json_nodes running_nodes; }
all_members() { cluster_json "$1" | json_nodes disk_nodes; }
count_words() { wc -w | tr -d ' '; }

alive_count() {
    local i n=0
    for i in $(seq 1 "$SIZE"); do
        if vm_pid "$i" >/dev/null; then n=$((n + 1)); fi
    done
    echo "$n"
}

# wait_members N [SECONDS]: until every node whose VM is alive reports N running members.
wait_members() {
    local want=$1 limit=${2:-$TIMEOUT} deadline seen i ok
    deadline=$(($(now) + limit))
    while :; do
        ok=1
        seen=""
        for i in $(seq 1 "$SIZE"); do
            vm_pid "$i" >/dev/null || continue
            seen=$(running_members "$i" || true)
            if [ "$(echo "$seen" | count_words)" != "$want" ]; then
                ok=0
                break
            fi
        done
        [ -n "$seen" ] || ok=0
        [ "$ok" = 1 ] && return 0
        [ "$(now)" -lt "$deadline" ] || die "the cluster did not reach $want running members within ${limit}s (last seen: ${seen:-none})"
        sleep 1
    done
}

# Make node i a member of node 1's cluster, unless it already is one.
join() {
    local i=$1 first log step
    first=$(node_name 1)
    if all_members 1 | tr ' ' '\n' | grep -xF "$(node_name "$i")" >/dev/null; then
        return 0
    fi
    say "joining c$i to $first"
    # The CLI logs benign warnings while a node joins (feature flag files rewritten, tracked
    # connection tables not ready yet); they go to a file, shown only if a step fails.
    log="$(node_dir "$i")/log/join.log"
    for step in stop_app reset "join_cluster $first" start_app; do
        # shellcheck disable=SC2086 # "join_cluster NODE" is two words on purpose
        if ! ctl rabbitmqctl "$i" -q $step >>"$log" 2>&1; then
            cat "$log" >&2
            die "'rabbitmqctl $step' failed on c$i"
        fi
    done
}

# After `prepare`: even `rabbitmqctl version` reads the cookie in HOME.
print_version() {
    local v
    base_env
    v=$(env -i "${ENV[@]}" "$SBIN/rabbitmqctl" version 2>/dev/null || true)
    case "$v" in
    3.[0-7].* | [0-2].*) die "RabbitMQ $v has no quorum queues; 3.8 or later is needed" ;;
    esac
    say "RabbitMQ ${v:-(unknown version)} from $SBIN, base folder $DIR"
}

cmd_start() {
    local t0 i pid down
    t0=$(now)
    ensure_installed
    prepare
    print_version
    down=()
    for i in $(seq 1 "$SIZE"); do
        if pid=$(vm_pid "$i"); then
            say "c$i already running (beam.smp pid $pid)"
        else
            check_ports_free "$i"
            down+=("$i")
        fi
    done
    for i in "${down[@]}"; do
        launch "$i"
    done
    # All launched before any wait: a node that was stopped with its peers waits for them.
    for i in $(seq 1 "$SIZE"); do
        wait_booted "$i"
    done
    for i in $(seq 2 "$SIZE"); do
        join "$i"
    done
    wait_members "$SIZE"
    say "$SIZE nodes running and clustered in $(($(now) - t0))s: $(cmd_urls)"
}

# SIGTERM makes RabbitMQ shut down cleanly; SIGKILL is the fallback after 60 s.
stop_vm() {
    local pid=$1 deadline
    deadline=$(($(now) + 60))
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(now)" -ge "$deadline" ]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.2
    done
}

cmd_stop() {
    local i pid pids=() t0
    t0=$(now)
    for i in $(seq 1 "$SIZE"); do
        if pid=$(vm_pid "$i"); then
            say "stopping c$i (beam.smp pid $pid)"
            pids+=("$pid")
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${pids[@]}"; do
        stop_vm "$pid"
    done
    for i in $(seq 1 "$SIZE"); do
        if pid=$(vm_pid "$i"); then
            die "c$i is still running (pid $pid); not removing $DIR"
        fi
    done
    if [ -e "$DIR/$MARKER" ]; then
        rm -rf "$DIR"
        say "stopped in $(($(now) - t0))s; removed $DIR"
    elif [ -e "$DIR" ]; then
        die "$DIR has no $MARKER file: not removing a folder this script did not create"
    else
        say "nothing to remove at $DIR"
    fi
}

cmd_status() {
    local i pid state all_ok=1 members="" seen
    need_sbin
    for i in $(seq 1 "$SIZE"); do
        if pid=$(vm_pid "$i"); then
            if port_open "$(amqp_port "$i")"; then
                state=running
                if [ -z "$members" ]; then
                    seen=$(running_members "$i" || true)
                    [ -n "$seen" ] && members=$seen
                fi
            else
                state=booting
                all_ok=0
            fi
        else
            state=down
            pid=-
            all_ok=0
        fi
        printf 'rabbitmq-cluster: c%s %-24s %-8s pid=%-8s amqp=127.0.0.1:%s dist=%s\n' \
            "$i" "$(node_name "$i")" "$state" "$pid" "$(amqp_port "$i")" "$(dist_port "$i")"
    done
    say "running members: ${members:-none} ($(echo "$members" | count_words)/$SIZE)"
    [ "$(echo "$members" | count_words)" = "$SIZE" ] || all_ok=0
    [ "$all_ok" = 1 ]
}

cmd_kill() {
    local i pid
    i=$(node_index "${1:-}")
    pid=$(vm_pid "$i") || die "c$i is not running"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    say "killed c$i ($(node_name "$i"), beam.smp pid $pid) with SIGKILL"
}

cmd_restart() {
    local i pid t0 deadline n
    i=$(node_index "${1:-}")
    need_sbin
    t0=$(now)
    if pid=$(vm_pid "$i"); then
        # A graceful stop of a node whose quorum queues would lose their majority would make
        # them unavailable: wait until every queue it hosts has enough other members online.
        deadline=$(($(now) + TIMEOUT))
        until ctl rabbitmq-queues "$i" -q check_if_node_is_quorum_critical >/dev/null 2>&1; do
            [ "$(now)" -lt "$deadline" ] || die "c$i stayed quorum-critical for ${TIMEOUT}s; not stopping it"
            sleep 1
        done
        say "stopping c$i gracefully (beam.smp pid $pid)"
        stop_vm "$pid"
    fi
    prepare
    launch "$i"
    wait_booted "$i"
    # Every node alive now, not always all of them: a test may keep another one down.
    n=$(alive_count)
    wait_members "$n"
    say "c$i is back: $n running members, restart took $(($(now) - t0))s"
}

cmd_rolling_restart() {
    local i t0
    t0=$(now)
    for i in $(seq 1 "$SIZE"); do
        cmd_restart "$i"
    done
    say "rolling restart of $SIZE nodes took $(($(now) - t0))s"
}

# The leader from quorum_status (3.10 prints each member with its "Raft State"), asked of the
# running nodes in turn; during an election there is none for a moment, so retry a while.
cmd_leader() {
    local queue=${1:-} i deadline out leader
    [ -n "$queue" ] || die "usage: $0 leader QUEUE"
    need_sbin
    deadline=$(($(now) + TIMEOUT))
    while :; do
        for i in $(seq 1 "$SIZE"); do
            port_open "$(amqp_port "$i")" || continue
            if ! out=$(ctl rabbitmq-queues "$i" -q quorum_status -p "$VHOST" "$queue" --formatter json 2>&1); then
                # No such queue, or not a quorum queue: no point waiting.
                if echo "$out" | grep -E 'not_found|Cannot get quorum status' >/dev/null; then
                    die "no quorum queue '$queue' in vhost $VHOST: $(echo "$out" | tr '\n' ' ')"
                fi
                continue
            fi
            leader=$(echo "$out" | grep -o '{[^{}]*}' | grep '"Raft State":"leader"' |
                grep -o '"Node Name":"[^"]*"' | head -n1 | sed -e 's/^"Node Name":"//' -e 's/"$//')
            if [ -n "$leader" ]; then
                echo "$leader"
                return 0
            fi
        done
        [ "$(now)" -lt "$deadline" ] || die "no node leads quorum queue '$queue' (vhost $VHOST) after ${TIMEOUT}s"
        [ "$(alive_count)" != 0 ] || die "no node of the cluster is running"
        sleep 1
    done
}

cmd_messages() {
    local queue=${1:-} i
    [ -n "$queue" ] || die "usage: $0 messages QUEUE"
    need_sbin
    for i in $(seq 1 "$SIZE"); do
        port_open "$(amqp_port "$i")" || continue
        if ctl rabbitmqctl "$i" -q list_queues -p "$VHOST" name messages --no-table-headers 2>/dev/null |
            awk -v q="$queue" '$1 == q { print $2; found = 1 } END { exit !found }'; then
            return 0
        fi
    done
    die "no running node lists queue '$queue' in vhost $VHOST"
}

cmd_ports() {
    local i
    for i in $(seq 1 "$SIZE"); do
        echo "$(node_name "$i") amqp=$(amqp_port "$i") dist=$(dist_port "$i")"
    done
}

cmd_urls() {
    local i urls=()
    for i in $(seq 1 "$SIZE"); do
        urls+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$i")/%2f")
    done
    (
        IFS=,
        echo "${urls[*]}"
    )
}

usage() {
    sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
kill) cmd_kill "${2:-}" ;;
restart) cmd_restart "${2:-}" ;;
rolling-restart) cmd_rolling_restart ;;
leader) cmd_leader "${2:-}" ;;
messages) cmd_messages "${2:-}" ;;
wait-members)
    need_sbin
    [[ "${2:-}" =~ ^[0-9]+$ ]] || die "usage: $0 wait-members N [SECONDS]"
    wait_members "$2" "${3:-$TIMEOUT}"
    say "$2 running members"
    ;;
ports) cmd_ports ;;
urls) cmd_urls ;;
*) usage ;;
esac
