#!/usr/bin/env python3
"""Independent POP3 client for popfs tests: Python's poplib over implicit TLS, verifying the
server certificate against --ca-file. The password comes from $POPFS_TEST_PASSWORD.

Writes into --out:
  index.tsv      one line per message in server order: <number>\t<uidl>\t<LIST size>
  <number>.msg   exact RETR bytes (mode "all"): dot-unstuffed, CRLF, no terminator
  top.msg        exact TOP bytes (mode "top")
  <number>.top   exact TOP bytes of every message (mode "topall")
"""
import argparse
import os
import poplib
import ssl
import sys

# poplib refuses lines over 2,048 bytes by default; real mail has longer ones.
poplib._MAXLINE = 64 * 1024 * 1024


def joined(lines):
    # poplib strips each line's CRLF and the dot-stuffing; put the CRLFs back.
    return b"".join(line + b"\r\n" for line in lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", choices=["all", "uidl", "top", "topall"], default="all")
    parser.add_argument("--uidl")
    parser.add_argument("--lines", type=int, default=0)
    args = parser.parse_args()

    context = ssl.create_default_context(cafile=args.ca_file)
    client = poplib.POP3_SSL(args.host, args.port, context=context, timeout=60)
    client.user(args.user)
    client.pass_(os.environ["POPFS_TEST_PASSWORD"])
    _, uidl_lines, _ = client.uidl()
    _, list_lines, _ = client.list()
    sizes = {}
    for line in list_lines:
        number, size = line.split()
        sizes[int(number)] = int(size)
    index = []
    for line in uidl_lines:
        number, uidl = line.split(b" ", 1)
        index.append((int(number), uidl.decode("latin-1"), sizes[int(number)]))

    with open(os.path.join(args.out, "index.tsv"), "w", encoding="latin-1") as out:
        for number, uidl, size in index:
            out.write(f"{number}\t{uidl}\t{size}\n")
    if args.mode == "all":
        for number, _, _ in index:
            _, lines, _ = client.retr(number)
            with open(os.path.join(args.out, f"{number}.msg"), "wb") as out:
                out.write(joined(lines))
    elif args.mode == "topall":
        for number, _, _ in index:
            _, lines, _ = client.top(number, args.lines)
            with open(os.path.join(args.out, f"{number}.top"), "wb") as out:
                out.write(joined(lines))
    elif args.mode == "top":
        numbers = [number for number, uidl, _ in index if uidl == args.uidl]
        if not numbers:
            print(f"no message with UIDL {args.uidl!r}", file=sys.stderr)
            return 2
        _, lines, _ = client.top(numbers[0], args.lines)
        with open(os.path.join(args.out, "top.msg"), "wb") as out:
            out.write(joined(lines))
    client.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
