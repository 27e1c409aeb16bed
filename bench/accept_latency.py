#!/usr/bin/env python3
"""Latency from SMTP accept to submit_sm, sampled during a load run (bench/email-to-sms.sh).

probe PORT TO RUN OUT: sends one small probe mail at a time over one SMTP connection, every
    INTERVAL seconds, each with a unique body; writes "<n>\t<unix seconds after the 250>" per
    accepted probe to OUT. Stops on SIGTERM.
report CONTROL RUN IN...: asks `impulse sim smsc`'s control port when each probe arrived as
    submit_sm, and prints one latency in milliseconds per probe found (a probe never submitted
    is reported on stderr).
summary FILE: p50, p99 and max of the latencies in FILE.
"""
import re
import signal
import smtplib
import socket
import sys
import time

INTERVAL = 0.01


def probe(port, to, run, out):
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    smtp = smtplib.SMTP("127.0.0.1", int(port))
    n = 0
    with open(out, "w") as f:
        while not stop:
            n += 1
            body = f"Subject: p\r\n\r\nprobe-{run}-{n}-end\r\n"
            smtp.sendmail("probe@example.org", [to], body)
            f.write(f"{n}\t{time.time():.6f}\n")
            time.sleep(INTERVAL)
    smtp.quit()


def report(control, run, files):
    accepted = {}
    for path in files:
        for line in open(path):
            n, t = line.split("\t")
            accepted[int(n)] = float(t)
    s = socket.create_connection(("127.0.0.1", int(control)))
    s.sendall(b"times 10000000\n")
    data = b""
    while not data.endswith(b"\n.") and not data.endswith(b"\n.\n") and data != b".":
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    pattern = re.compile(rf"probe-{re.escape(run)}-(\d+)-end")
    submitted = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if "\t" not in line:
            continue
        micros, text = line.split("\t", 1)
        m = pattern.search(text)
        if m:
            submitted.setdefault(int(m.group(1)), int(micros) / 1e6)
    for n, t in sorted(accepted.items()):
        if n in submitted:
            print(f"{(submitted[n] - t) * 1000:.3f}")
        else:
            print(f"probe {n} accepted but never submitted", file=sys.stderr)


def summary(path):
    xs = sorted(float(x) for x in open(path) if x.strip())
    if not xs:
        print("no latency samples")
        return
    pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    print(f"accept -> submit_sm latency over {len(xs)} probes: "
          f"p50 {pick(0.50):.1f} ms, p99 {pick(0.99):.1f} ms, max {xs[-1]:.1f} ms")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "probe":
        probe(*args)
    elif cmd == "report":
        report(args[0], args[1], args[2:])
    else:
        summary(args[0])
