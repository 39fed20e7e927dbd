#!/usr/bin/env python3
"""tests/tools/smtp_sink.py - a tiny SMTP server that accepts every message
and writes it to a file, optionally offering STARTTLS.  For the Postfix
end-to-end test (tests/integration/test_postfix.sh): Postfix 3.7's own
smtp-sink cannot offer STARTTLS.

  smtp_sink.py --listen ADDR:PORT --dir DUMPDIR [--cert CRT --key KEY]
               [--hostname NAME] [--ready FILE]

Each accepted message becomes DUMPDIR/msg-N.eml: a few X-Sink-* lines
(the envelope, whether the session used TLS, the SNI name the client
sent, the peer's HELO), a blank line, then the message as received (dot
stuffing undone).  One line per session goes to stderr.  --ready FILE
is written once the socket listens.  SIGTERM stops it.
"""
import argparse
import itertools
import os
import signal
import socketserver
import ssl
import sys
import threading

counter = itertools.count(1)
lock = threading.Lock()


class Session(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.tls = False
        self.sni = ""
        self.helo = ""

    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def starttls(self):
        opts = self.server.opts
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.cert, opts.key)
        seen = {}

        def on_sni(sock, name, c):
            seen["name"] = name or ""

        ctx.sni_callback = on_sni
        self.send("220 2.0.0 ready to start TLS")
        self.rfile.close()
        self.wfile.close()
        self.connection = ctx.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb")
        self.tls = True
        self.sni = seen.get("name", "")
        self.helo = ""

    def handle(self):
        opts = self.server.opts
        mail_from, rcpts = None, []
        self.send("220 %s ESMTP mxcache test sink" % opts.hostname)
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            line = raw.decode("latin-1").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.helo = line[5:].strip()
                mail_from, rcpts = None, []
                if verb == "HELO":
                    self.send("250 %s" % opts.hostname)
                    continue
                ext = ["8BITMIME", "ENHANCEDSTATUSCODES"]
                if opts.cert and not self.tls:
                    ext.append("STARTTLS")
                self.send("250-%s" % opts.hostname)
                for i, e in enumerate(ext):
                    self.send(("250 " if i == len(ext) - 1 else "250-") + e)
            elif verb == "STARTTLS" and opts.cert and not self.tls:
                try:
                    self.starttls()
                except (ssl.SSLError, OSError) as e:
                    sys.stderr.write("sink: TLS handshake failed: %s\n" % e)
                    return
            elif verb == "MAIL":
                mail_from, rcpts = line[10:].strip(), []
                self.send("250 2.1.0 ok")
            elif verb == "RCPT":
                if mail_from is None:
                    self.send("503 5.5.1 MAIL first")
                    continue
                rcpts.append(line[8:].strip())
                self.send("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    self.send("503 5.5.1 RCPT first")
                    continue
                self.send("354 go ahead")
                body = []
                while True:
                    raw = self.rfile.readline(65536)
                    if not raw:
                        return
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    body.append(raw)
                with lock:
                    n = next(counter)
                path = os.path.join(opts.dir, "msg-%d.eml" % n)
                head = "".join("X-Sink-%s: %s\n" % kv for kv in [
                    ("From", mail_from), ("To", " ".join(rcpts)), ("TLS", "yes" if self.tls else "no"),
                    ("SNI", self.sni), ("Helo", self.helo)])
                with open(path + ".tmp", "wb") as f:
                    f.write(head.encode() + b"\n" + b"".join(body))
                os.rename(path + ".tmp", path)
                sys.stderr.write("sink: %s from %s to %s tls=%s sni=%s\n" %
                                 (path, mail_from, " ".join(rcpts), self.tls, self.sni))
                sys.stderr.flush()
                self.send("250 2.0.0 Ok: queued as sink-%d" % n)
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.send("250 2.0.0 ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.2 command not recognized")

    def finish(self):
        try:
            super().finish()
        except (OSError, ssl.SSLError):
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--hostname", default="sink.mxcache.test")
    ap.add_argument("--ready")
    opts = ap.parse_args()
    host, port = opts.listen.rsplit(":", 1)
    os.makedirs(opts.dir, exist_ok=True)
    srv = Server((host, int(port)), Session)
    srv.opts = opts
    def on_term(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    if opts.ready:
        with open(opts.ready, "w") as f:
            f.write("%d\n" % srv.server_address[1])
    try:
        srv.serve_forever(poll_interval=0.2)
    except (SystemExit, KeyboardInterrupt):
        pass
    srv.server_close()


if __name__ == "__main__":
    main()
