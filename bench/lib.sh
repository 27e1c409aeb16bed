# Helpers shared by the benchmark scripts (sourced, not run).
# port: a free loopback TCP port. wait_port PORT: wait until it accepts (20 s). now: wall clock in
# seconds. median N...: the median of its arguments. submits PORT: the `submits=` count a
# simulator's control port reports. user: smtp-sink's `-u nobody` when running as root.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
submits() { exec 3<>/dev/tcp/127.0.0.1/$1; echo stats >&3; head -1 <&3 | sed -E 's/submits=([0-9]+).*/\1/'; }
user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
