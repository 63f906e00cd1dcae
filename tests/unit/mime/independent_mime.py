#!/usr/bin/env python3
"""Independent side of tests/unit/mime/independent_decoder_test.cpp.

  independent_mime.py generate DIR   writes a deterministic corpus DIR/msgN.eml, built with
                                     Python's email package (CRLF line endings)
  independent_mime.py decode DIR     parses each DIR/msgN.eml with Python's email package and
                                     writes DIR/msgN.parts: one line per leaf part,
                                     "<path>\\t<hex filename or ->\\t<content type>\\t<bytes file>",
                                     the bytes file holding get_payload(decode=True)

Paths are IMAP section numbers, as popfs::mime numbers parts: the children of a top-level
multipart are 1, 2, ...; a single-part body is 1; the parts of a message/rfc822 at P are
P.1, P.2, ... (P.1 alone when its body is not multipart).
"""

import base64
import binascii
import email
import email.header
import email.message
import email.policy
import os
import random
import sys
from email.message import EmailMessage


def pdf_like(rng, size):
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(size) + b"\n%%EOF\n"


def number_boundaries(message, prefix):
    """Fixed boundaries (Python picks random ones otherwise)."""
    counter = [0]

    def walk(part):
        if part.get_content_maintype() == "multipart":
            counter[0] += 1
            part.set_boundary(f"=_{prefix}_{counter[0]}_=")
            for child in part.get_payload():
                walk(child)
        elif part.get_content_type() == "message/rfc822":
            for inner in part.get_payload():
                walk(inner)

    walk(message)
    return message


def headers(message, subject):
    message["From"] = "Sender <sender@example.org>"
    message["To"] = "rcpt@example.org"
    message["Subject"] = subject
    return message


def attachments_message(rng):
    m = headers(EmailMessage(), "attachments")
    m.set_content("Gr\u00fc\u00dfe aus K\u00f6ln, a long line that quoted-printable has to "
                  "break somewhere because it is longer than seventy-six characters = yes.\n"
                  "trailing spaces   \n", cte="quoted-printable")
    m.add_attachment(pdf_like(rng, 40000), maintype="application", subtype="pdf",
                     filename="report.pdf")
    # RFC 2231: Python writes filename*=utf-8''... for a non-ASCII name.
    m.add_attachment(pdf_like(rng, 3000), maintype="application", subtype="pdf",
                     filename="r\u00e9sum\u00e9 \u00e9t\u00e9.pdf")
    m.add_attachment("caf\u00e9 cr\u00e8me\n" * 40, subtype="plain", cte="quoted-printable",
                     filename="menu.txt")
    # RFC 2047 in a parameter (not standard, common in the wild), written as it is: a
    # compat32 Message keeps the header text (EmailMessage would rewrite it as RFC 2231).
    part = email.message.Message()
    encoded = email.header.Header("\u00e9t\u00e9 photo.png", "utf-8").encode()
    part["Content-Type"] = "image/png"
    part["Content-Transfer-Encoding"] = "base64"
    part["Content-Disposition"] = f'attachment; filename="{encoded}"'
    part.set_payload(base64.encodebytes(rng.randbytes(500)).decode("ascii"))
    m.attach(part)
    return number_boundaries(m, "att")


def alternative_message(rng):
    m = headers(EmailMessage(), "alternative with a nested mixed")
    m.set_content("plain \u00e9 version\n" * 5, cte="quoted-printable")
    inner = EmailMessage()
    inner.set_content("<p>html \u00e9 version</p>\n", subtype="html", cte="base64")
    inner.add_attachment(rng.randbytes(2000), maintype="image", subtype="png",
                         filename="inline.png", disposition="inline")
    m.make_alternative()
    m.attach(inner)
    m.make_mixed()
    m.add_attachment(pdf_like(rng, 10000), maintype="application", subtype="pdf",
                     filename="after.pdf")
    return number_boundaries(m, "alt")


def forwarded_message(rng):
    forwarded = headers(EmailMessage(), "the forwarded one")
    forwarded.set_content("forwarded body \u00e9\n", cte="quoted-printable")
    forwarded.add_attachment(pdf_like(rng, 5000), maintype="application", subtype="pdf",
                             filename="forwarded.pdf")
    single = headers(EmailMessage(), "single-part forwarded")
    single.set_content("just text\n", cte="7bit")
    m = headers(EmailMessage(), "Fwd: two messages")
    m.set_content("see the attached messages\n")
    m.add_attachment(forwarded)
    m.add_attachment(single)
    return number_boundaries(m, "fwd")


def big_message(rng):
    m = headers(EmailMessage(), "big")
    m.set_content("8bit text \u00e9\u00e8\u00e0\n" * 100, cte="8bit")
    m.add_attachment(rng.randbytes(1024 * 1024), maintype="application",
                     subtype="octet-stream", filename="blob.bin")
    # uuencode, as old mailers sent it.
    data = rng.randbytes(3000)
    lines = [b"begin 644 old.bin"]
    lines += [binascii.b2a_uu(data[i:i + 45]).rstrip(b"\n") for i in range(0, len(data), 45)]
    lines += [b"`", b"end", b""]
    uu = EmailMessage()
    uu["Content-Type"] = "application/octet-stream"
    uu["Content-Disposition"] = 'attachment; filename="old.bin"'
    uu["Content-Transfer-Encoding"] = "x-uuencode"
    uu.set_payload(b"\r\n".join(lines).decode("ascii"))
    m.attach(uu)
    return number_boundaries(m, "big")


def single_part_message(rng):
    m = headers(EmailMessage(), "single base64")
    m.set_content(pdf_like(rng, 7000), maintype="application", subtype="pdf", filename="only.pdf")
    return m


def generate(directory):
    rng = random.Random(20240601)
    builders = [attachments_message, alternative_message, forwarded_message, big_message,
                single_part_message]
    for number, build in enumerate(builders, start=1):
        data = build(rng).as_bytes(policy=email.policy.SMTP)
        with open(os.path.join(directory, f"msg{number}.eml"), "wb") as out:
            out.write(data)


def filename_of(part):
    name = part.get_filename()
    if name is None:
        return None
    # RFC 2047 inside a quoted parameter is not decoded by the email package: decode it here.
    if "=?" in name:
        name = str(email.header.make_header(email.header.decode_header(name)))
    return name


def decode(directory):
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".eml"):
            continue
        stem = entry[:-4]
        with open(os.path.join(directory, entry), "rb") as f:
            message = email.message_from_bytes(f.read(), policy=email.policy.default)
        rows = []

        def leaf(part, path):
            data = part.get_payload(decode=True)
            bytes_file = f"{stem}.part-{path}.bin"
            with open(os.path.join(directory, bytes_file), "wb") as out:
                out.write(data if data is not None else b"")
            name = filename_of(part)
            hexname = name.encode("utf-8").hex() if name is not None else "-"
            rows.append(f"{path}\t{hexname}\t{part.get_content_type()}\t{bytes_file}\n")

        def body(part, base):
            prefix = base + "." if base else ""
            if part.is_multipart() and part.get_content_maintype() == "multipart":
                for index, child in enumerate(part.get_payload(), start=1):
                    node(child, f"{prefix}{index}")
            else:
                node(part, f"{prefix}1")

        def node(part, path):
            if part.get_content_type() == "message/rfc822":
                body(part.get_payload(0), path)
            elif part.get_content_maintype() == "multipart":
                body(part, path)
            else:
                leaf(part, path)

        body(message, "")
        with open(os.path.join(directory, f"{stem}.parts"), "w") as out:
            out.writelines(rows)


if __name__ == "__main__":
    {"generate": generate, "decode": decode}[sys.argv[1]](sys.argv[2])
