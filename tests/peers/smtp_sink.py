#!/usr/bin/env python3
"""An SMTP sink for Impulse's integration tests, built on aiosmtpd (a third-party SMTP server).

Each accepted message is written to OUT_DIR as <n>.eml with X-Envelope-From / X-Envelope-To
headers prepended. Recipients steer the reply, so tests can script the remote side:
  reject*@...     -> 550 5.1.1 at RCPT
  deferall*@...   -> 451 4.3.0 at RCPT, always
  deferN-*@...    -> 451 4.3.0 at RCPT for the first N attempts, then accepted
With CERT and KEY (PEM files) it offers STARTTLS, and a message received over TLS gets an
X-Sink-TLS: yes header after the envelope headers.
Usage: smtp_sink.py HOST PORT OUT_DIR [CERT KEY]
With PORT 0 the system picks a free port; the sink prints "listening on HOST:PORT" when ready.
"""
import asyncio
import os
import re
import ssl
import sys

from aiosmtpd.smtp import SMTP

class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0
        self.tries = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: no such user" % address
        if local.startswith("deferall"):
            return "451 4.3.0 <%s>: try again later" % address
        m = re.match(r"defer(\d+)-", local)
        if m:
            n = self.tries.get(address, 0) + 1
            self.tries[address] = n
            if n <= int(m.group(1)):
                return "451 4.3.0 <%s>: deferred attempt %d" % (address, n)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.out_dir, "%06d.eml" % self.count)
        sender = "" if envelope.mail_from in ("<>", None) else envelope.mail_from
        head = "X-Envelope-From: <%s>\r\nX-Envelope-To: %s\r\n" % (
            sender, ",".join(envelope.rcpt_tos))
        if session.ssl is not None:
            head += "X-Sink-TLS: yes\r\n"
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(tmp, path)
        return "250 2.0.0 Message accepted"

def main():
    host, port, out_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    tls = {}
    if len(sys.argv) > 5:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        tls = {"tls_context": ctx}
    handler = Sink(out_dir)
    # aiosmtpd's SMTP protocol on a server of our own (its Controller cannot listen on port 0).
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, decode_data=False, **tls), host, port))
    bound = server.sockets[0].getsockname()
    print("listening on %s:%d" % (bound[0], bound[1]), flush=True)
    loop.run_forever()

if __name__ == "__main__":
    main()
