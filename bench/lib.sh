# Helpers shared by the benchmark scripts (sourced, not run).
# port: a free loopback TCP port. wait_port PORT: wait until it accepts (20 s). now: wall clock in
# seconds. median N...: the median of its arguments. submits PORT: the `submits=` count a
# simulator's control port reports; sim_stat PORT NAME: any count of its `stats` line; control PORT
# COMMAND: one command, its one-line answer. user: smtp-sink's `-u nobody` when running as root.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
control() { exec 3<>/dev/tcp/127.0.0.1/$1; echo "$2" >&3; head -1 <&3; }
sim_stat() { control "$1" stats | sed -E "s/.*(^| )$2=([0-9]+).*/\2/"; }
submits() { sim_stat "$1" submits; }
user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
