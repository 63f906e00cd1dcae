#!/usr/bin/env python3
"""Checks that a copy of a mailbox holds exactly the server's messages (for scripts/bench-fs).

  verify_copy.py popfs SOURCE_MAILDIR COUNT WIRE_BYTES COPY_DIR
      COPY_DIR is `cp -r MOUNTPOINT COPY_DIR`: COUNT *.eml files whose sizes add up to
      WIRE_BYTES (the LIST sizes), whose contents with CRLF turned into LF are the Maildir's
      messages (as a multiset: names differ), and .headers/<name> for each, which must be the
      message's header block (with or without the blank line that ends it).
  verify_copy.py mpop SOURCE_MAILDIR COUNT MPOP_MAILDIR
      mpop's delivery Maildir: COUNT messages equal to the source's (mpop writes LF).

SOURCE_MAILDIR is the server's Maildir (files in cur/ and new/, LF line endings, as RFC 5322
text: the server adds CR on the wire). Prints one line saying what matched; exits 1 with the
first differences otherwise.
"""
import collections
import hashlib
import os
import sys


def digest(data):
    return hashlib.sha256(data).hexdigest()


def maildir_files(maildir):
    paths = []
    for sub in ("cur", "new"):
        directory = os.path.join(maildir, sub)
        if os.path.isdir(directory):
            paths += [os.path.join(directory, name) for name in sorted(os.listdir(directory))]
    return paths


def read(path):
    with open(path, "rb") as f:
        return f.read()


def source_digests(maildir):
    return collections.Counter(digest(read(p)) for p in maildir_files(maildir))


def compare(label, expected, actual, problems):
    if expected == actual:
        return
    missing = expected - actual
    extra = actual - expected
    problems.append(f"{label}: {sum(missing.values())} source messages have no identical copy, "
                    f"{sum(extra.values())} copies match no source message")


def check_popfs(source, count, wire_bytes, copy, problems):
    names = sorted(os.listdir(copy))
    messages = [n for n in names if n.endswith(".eml") and os.path.isfile(os.path.join(copy, n))]
    others = [n for n in names if n not in messages and n != ".headers"]
    if others:
        problems.append(f"unexpected entries in the copy: {others[:5]}")
    if len(messages) != count:
        problems.append(f"{len(messages)} messages in the copy, the server has {count}")
    total = 0
    digests = collections.Counter()
    bodies = {}
    for name in messages:
        data = read(os.path.join(copy, name))
        total += len(data)
        bodies[name] = data
        digests[digest(data.replace(b"\r\n", b"\n"))] += 1
    if total != wire_bytes:
        problems.append(f"the copy holds {total} bytes, the LIST sizes add up to {wire_bytes}")
    compare("message contents (CRLF -> LF) vs the server's Maildir", source_digests(source),
            digests, problems)

    headers_dir = os.path.join(copy, ".headers")
    stubs = sorted(os.listdir(headers_dir)) if os.path.isdir(headers_dir) else []
    if stubs != messages:
        problems.append(f".headers has {len(stubs)} entries, not the {len(messages)} message names")
    bad_stubs = []
    for name in stubs:
        if name not in bodies:
            continue
        stub = read(os.path.join(headers_dir, name))
        body = bodies[name]
        end = body.find(b"\r\n\r\n")
        block = body if end < 0 else body[:end + 2]
        if stub not in (block, block + b"\r\n"):
            bad_stubs.append(name)
    if bad_stubs:
        problems.append(f"{len(bad_stubs)} header stubs are not their message's header block, "
                        f"e.g. .headers/{bad_stubs[0]}")
    if not problems:
        print(f"copy OK: {len(messages)} messages, {total} bytes (= LIST total), contents equal "
              f"the server's Maildir; {len(stubs)} header stubs equal the header blocks")


def check_mpop(source, count, maildir, problems):
    files = maildir_files(maildir)
    if len(files) != count:
        problems.append(f"mpop delivered {len(files)} messages, the server has {count}")
    digests = collections.Counter(digest(read(p)) for p in files)
    compare("mpop's messages vs the server's Maildir", source_digests(source), digests, problems)
    if not problems:
        print(f"mpop OK: {len(files)} messages, equal to the server's Maildir")


def main(argv):
    problems = []
    if len(argv) == 6 and argv[1] == "popfs":
        check_popfs(argv[2], int(argv[3]), int(argv[4]), argv[5], problems)
    elif len(argv) == 5 and argv[1] == "mpop":
        check_mpop(argv[2], int(argv[3]), argv[4], problems)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for problem in problems:
        print(f"MISMATCH: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
