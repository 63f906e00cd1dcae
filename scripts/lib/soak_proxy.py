#!/usr/bin/env python3
"""The cutting proxy of scripts/soak: popfs <-TLS-> this proxy <-plain-> Dovecot.

It terminates popfs's TLS with the test server's own certificate (so popfs verifies it with
--ca-file as it would verify Dovecot) and talks plain POP3 to Dovecot on loopback, so it sees
every command popfs sends. Each connection draws its fate from Random("SEED/N") (N: the
connection's number, from 1):

  handshake  cut during the TLS handshake, after 0..299 bytes of the ClientHello
  bytes      cut after a byte budget drawn log-uniformly from 1 .. --max-bytes (bytes of
             POP3 in both directions, counted from the greeting)
  command    cut a random number of bytes (log-uniform, 0 .. 64 KiB) after the client sends
             its k-th command of one kind (CAPA, AUTH, UIDL, LIST, TOP, RETR, DELE, QUIT;
             k geometric); a connection that never sends it is not cut
  none       not cut
  +dele      (--dele-bias P) a connection (not passing through) that sends DELE and is still
             open is cut instead with chance P within the first few DELEs it sends (commit sessions are
             rare, so cuts on DELE would be too)

--delay-ms adds latency each way (each piece is forwarded that long after it arrived), as a
slow link: the kill campaign uses it so that its kills land inside the moment it aims at.

The mode file (--mode-file) says, when a connection arrives, whether it may be cut: "cut",
"pass" (pass-through: no cuts, used for the uncut commits and checks) or "down" (every
connection dropped at once: the server unreachable). It is read on
every accept, so a mode written before a mount applies to every connection of that mount.

The log (--log) gets one line per event, flushed at once, tab-separated:
  cmd  N  KIND  s2c_bytes           every command the client sent (for the kill campaign)
  end  N  FATE  cut|closed  KIND  c2s  s2c  LINE
       at the end of every connection: KIND is the kind of the last command sent before
       the connection ended (greeting: none yet; handshake: TLS not finished), LINE that
       command with any argument of PASS/AUTH masked.
"""
import argparse
import asyncio
import math
import os
import random
import ssl
import sys

KINDS = ["CAPA", "AUTH", "UIDL", "LIST", "TOP", "RETR", "DELE", "QUIT"]
AUTH_WORDS = {b"USER", b"PASS", b"AUTH", b"APOP"}


def kind_of(line, in_auth):
    word = line.split(b" ", 1)[0].strip().upper()
    if in_auth and word not in (b"CAPA", b"UIDL", b"LIST", b"TOP", b"RETR", b"DELE", b"QUIT", b"NOOP", b"STAT", b"RSET"):
        return "AUTH"  # a SASL response line
    if word in AUTH_WORDS:
        return "AUTH"
    text = word.decode("ascii", "replace")
    return text if text in KINDS else "OTHER:" + text[:8]


def masked(line, kind_is_sasl):
    words = line.rstrip(b"\r\n").split(b" ")
    if kind_is_sasl:
        return "****"  # a SASL response
    first = words[0].upper()
    if first == b"AUTH":
        words = words[:2] + ([b"****"] if len(words) > 2 else [])
    elif first in (b"PASS", b"APOP"):
        words = words[:1] + [b"****"]
    return b" ".join(words).decode("ascii", "replace")


class Proxy:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.log = open(args.log, "a", buffering=1, encoding="ascii", errors="replace")
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(args.cert, args.key)
        self.links = {}  # the front's port towards the TLS listener -> the connection's state
        self.inner_port = 0

    def mode(self):
        try:
            with open(self.args.mode_file, encoding="ascii") as f:
                return f.read().strip() or "cut"
        except OSError:
            return "cut"

    def fate(self, rng):
        r = rng.random()
        if r < self.args.p_none:
            return ("none", None)
        r -= self.args.p_none
        if r < 0.04:
            return ("handshake", rng.randrange(300))
        if r < 0.04 + (1 - 0.04 - self.args.p_none) / 2:
            return ("bytes", int(math.exp(rng.uniform(0, math.log(self.args.max_bytes)))))
        kind = rng.choice(KINDS)
        k = 1
        while rng.random() < 0.25:
            k += 1
        extra = int(math.exp(rng.uniform(0, math.log(65536)))) - 1
        return ("command", (kind, k, extra))

    async def front(self, reader, writer):
        """The listener popfs connects to: decides the connection's fate, cuts handshakes
        itself, relays the rest to the TLS listener (asyncio's start_tls on an accepted
        connection hangs the handshakes after a connection closed cleanly, in Python 3.11)."""
        self.count += 1
        n = self.count
        rng = random.Random("%d/%d" % (self.args.seed, n))
        mode = self.mode()
        if mode == "down":  # the server unreachable: every connection dropped at once
            writer.transport.abort()
            self.log.write("end\t%d\tdown\tcut\thandshake\t0\t0\t\n" % n)
            return
        fate = self.fate(rng) if mode == "cut" else ("pass", None)
        name = fate[0] if fate[0] != "command" else "command:%s#%d+%d" % fate[1]
        state = {"n": n, "fate": fate, "name": name, "c2s": 0, "s2c": 0, "kind": "handshake", "line": "",
                 "budget": fate[1] if fate[0] == "bytes" else None, "cut": False, "seen": {}, "in_auth": False,
                 "front": writer, "ended": False, "rng": rng}
        if fate[0] == "handshake":
            if fate[1] > 0:
                try:
                    await asyncio.wait_for(reader.read(fate[1]), 10)
                except (asyncio.TimeoutError, OSError):
                    pass
            state["cut"] = True
            writer.transport.abort()
            self.end(state)
            return
        link_writer = None
        try:
            link_reader, link_writer = await asyncio.open_connection("127.0.0.1", self.inner_port)
            self.links[link_writer.get_extra_info("sockname")[1]] = state

            async def pump(src, dst):
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    dst.write(data)
                    await dst.drain()

            await until_either_ends(pump(reader, link_writer), pump(link_reader, writer))
        except (OSError, ConnectionError):
            pass
        finally:
            # Unless cut, the TLS side ended first (popfs or Dovecot closed): pass the FIN on.
            close_toward_popfs(writer, state["cut"])
            if link_writer is not None:
                link_writer.transport.abort()
            self.end(state)

    def end(self, state):
        if state["ended"]:
            return
        state["ended"] = True
        self.log.write("end\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n" % (
            state["n"], state["name"], "cut" if state["cut"] else "closed", state["kind"], state["c2s"],
            state["s2c"], state["line"]))

    async def inner(self, reader, writer):
        """The TLS listener: the POP3 conversation, relayed to Dovecot and cut as decided."""
        state = self.links.pop(writer.get_extra_info("peername")[1], None)
        if state is None:
            writer.transport.abort()
            return
        fate = state["fate"]
        state["kind"] = "greeting"
        up_writer = None
        try:
            up_reader, up_writer = await asyncio.open_connection(self.args.target_host, self.args.target_port)
            done = asyncio.Event()

            def cut():
                state["cut"] = True
                state["front"].transport.abort()
                writer.transport.abort()
                up_writer.transport.abort()
                done.set()

            loop = asyncio.get_running_loop()
            delay = self.args.delay_ms / 1000.0

            async def forward(piece, to, direction, arrived):
                # Forwards piece, or the part of it the budget allows, then cuts. True: go on.
                if delay > 0:
                    wait = arrived + delay - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                budget = state["budget"]
                if budget is not None:
                    room = budget - state["c2s"] - state["s2c"]
                    if len(piece) >= room:
                        if room > 0:
                            to.write(piece[:room])
                            state[direction] += room
                            try:
                                await asyncio.wait_for(to.drain(), 5)
                            except (OSError, asyncio.TimeoutError):
                                pass
                        cut()
                        return False
                to.write(piece)
                state[direction] += len(piece)
                await to.drain()
                return True

            async def client_to_server():
                pending = b""
                while not done.is_set():
                    data = await reader.read(65536)
                    if not data:
                        break
                    arrived = loop.time()
                    pending += data
                    # Forward line by line, so a command seen mid-chunk arms its cut in time.
                    while True:
                        end = pending.find(b"\n")
                        if end < 0:
                            break
                        line, pending = pending[:end + 1], pending[end + 1:]
                        kind = kind_of(line, state["in_auth"])
                        word = line.split(b" ", 1)[0].strip().upper()
                        sasl = kind == "AUTH" and word not in AUTH_WORDS
                        if word == b"AUTH":
                            state["in_auth"] = True
                        elif kind != "AUTH":
                            state["in_auth"] = False
                        state["kind"] = kind
                        state["line"] = masked(line, sasl)
                        state["seen"][kind] = state["seen"].get(kind, 0) + 1
                        self.log.write("cmd\t%d\t%s\t%d\n" % (state["n"], kind, state["s2c"]))
                        if fate[0] == "command" and state["budget"] is None:
                            want, k, extra = fate[1]
                            if kind == want and state["seen"][kind] == k:
                                state["budget"] = state["c2s"] + state["s2c"] + len(line) + extra
                        if (kind == "DELE" and state["seen"][kind] == 1 and fate[0] in ("command", "none", "bytes")
                                and not (fate[0] == "command" and fate[1][0] == "DELE")
                                and state["rng"].random() < self.args.dele_bias):
                            # Commit sessions are few: cut some of them inside their DELE batch.
                            state["name"] += "+dele"
                            budget = (state["c2s"] + state["s2c"] + len(line) * state["rng"].randint(1, 3) +
                                      state["rng"].randrange(24))
                            state["budget"] = budget if state["budget"] is None else min(budget, state["budget"])
                        if not await forward(line, up_writer, "c2s", arrived):
                            return
                    if len(pending) > 8192:  # not POP3; forward anyway
                        if not await forward(pending, up_writer, "c2s", arrived):
                            return
                        pending = b""

            async def server_to_client():
                while not done.is_set():
                    data = await up_reader.read(65536)
                    if not data:
                        break
                    if not await forward(data, writer, "s2c", loop.time()):
                        return

            await until_either_ends(client_to_server(), server_to_client())
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            close_toward_popfs(writer, state["cut"])  # unless cut: close_notify to popfs
            if up_writer is not None:
                if state["cut"]:
                    up_writer.transport.abort()
                else:
                    up_writer.close()


async def until_either_ends(*directions):
    """Relays both directions until one ends (EOF, error or cut), then stops the other."""
    tasks = [asyncio.ensure_future(d) for d in directions]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def close_toward_popfs(writer, cut):
    """A cut is an abort (RST); any other end is passed on as a close."""
    if cut:
        writer.transport.abort()
        return
    try:
        writer.close()
    except (OSError, RuntimeError):
        pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-host", default="127.0.0.1")
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--mode-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--max-bytes", type=int, default=4 << 20)
    parser.add_argument("--p-none", type=float, default=0.2)
    parser.add_argument("--dele-bias", type=float, default=0.0,
                        help="chance that a connection not yet armed is cut inside its DELE batch")
    parser.add_argument("--delay-ms", type=float, default=0, help="latency added each way (as a slow link)")
    args = parser.parse_args()
    proxy = Proxy(args)
    inner = await asyncio.start_server(proxy.inner, "127.0.0.1", 0, ssl=proxy.tls, ssl_handshake_timeout=30)
    proxy.inner_port = inner.sockets[0].getsockname()[1]
    server = await asyncio.start_server(proxy.front, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w", encoding="ascii") as f:
        f.write("%d\n" % port)
    os.rename(args.port_file + ".tmp", args.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
