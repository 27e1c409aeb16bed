#!/usr/bin/env python3
"""HTTP sendsms load for Kannel's smsbox: SESSIONS threads, each with one keep-alive
connection, send COUNT requests in all. Prints the seconds the requests took.
Usage: sendsms_load.py PORT COUNT SESSIONS"""
import http.client
import sys
import threading
import time
import urllib.parse

port, count, sessions = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
query = urllib.parse.urlencode({"username": "bench", "password": "bench", "from": "12345",
                                "to": "4445551234", "text": "x" * 100})
path = "/cgi-bin/sendsms?" + query
lock = threading.Lock()
left = [count]
errors = [0]

def worker():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while True:
        with lock:
            if left[0] == 0:
                return
            left[0] -= 1
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            if r.status >= 300:
                errors[0] += 1
        except Exception:
            errors[0] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

t0 = time.time()
threads = [threading.Thread(target=worker) for _ in range(sessions)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%.3f %d" % (time.time() - t0, errors[0]))
