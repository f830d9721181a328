"""A real SMTP server for tests (aiosmtpd), started by testkit's SmtpServer.

Usage: python smtp_server.py PORT OUT_DIR   (PORT 0: any free port)

Prints "listening <port>" once it accepts connections. Every accepted
message is written atomically to OUT_DIR as <time_ns>-<n>.json: the envelope
(mail_from, rcpt_to), the headers decoded (RFC 2047), the text/plain and
text/html parts decoded, and the raw message. A recipient whose local part starts with "bounce"
is refused with 550 (permanent); one starting with "busy" with 451
(transient). Stops on SIGTERM or SIGKILL.
"""

import asyncio
import email
import email.policy
import itertools
import json
import os
import sys
import time

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, out):
        self.out = out
        self.n = itertools.count()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("bounce"):
            return "550 5.1.1 <%s>: no such mailbox" % address
        if local.startswith("busy"):
            return "451 4.2.1 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = "%d-%d" % (time.time_ns(), next(self.n))
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        doc = {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
            "raw": raw.decode("utf-8", "replace"),
        }
        tmp = os.path.join(self.out, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        os.rename(tmp, os.path.join(self.out, name + ".json"))
        return "250 Message accepted"


async def main(port, out):
    loop = asyncio.get_running_loop()
    handler = Handler(out)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.test", decode_data=False), "127.0.0.1", port
    )
    print("listening %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
