"""What a user might write instead of `campaignctl apply`, for bench/cost.sh to compare with.

    python aiohttp_sends.py BASE_URL CSV TEMPLATE LANGUAGE TAG CONCURRENCY

POSTs one `single` send per row of CSV (`mobile,name`) to BASE_URL with aiohttp, at most
CONCURRENCY requests in flight over as many keep-alive connections, with the body
campaignctl sends for bench/lib.sh's campaign (compact JSON, the API reference's field
order, the name as the one param). It records nothing: no ledger, no retries, so it is a
lower bound for a script that also records what it sent. Prints `sent N of M in S s`;
exits 1 when an answer was not 200.

With `--bodies`, prints the bodies instead, one a line (cost.sh compares them with
campaignctl's).
"""

import asyncio
import csv
import json
import os
import sys
import time


def bodies(path, template, language, tag):
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            yield json.dumps(
                {
                    "to": {"mobile": row["mobile"], "name": row["name"]},
                    "fb_template": template,
                    "language": language,
                    "params": [row["name"]],
                    "tag": tag,
                },
                separators=(",", ":"),
            ).encode()


async def send_all(url, todo, concurrency, key):
    import aiohttp

    sent = failed = 0
    headers = {"content-type": "application/json", "x-tenant-api-key": key}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker():
            nonlocal sent, failed
            # The workers share one iterator: each body is sent once.
            for body in todo:
                async with session.post(url, data=body) as response:
                    await response.read()
                    if response.status == 200:
                        sent += 1
                    else:
                        failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent, failed


def main():
    args = sys.argv[1:]
    if args and args[0] == "--bodies":
        for body in bodies(*args[1:5]):
            sys.stdout.write(body.decode() + "\n")
        return
    base, path, template, language, tag, concurrency = args
    todo = list(bodies(path, template, language, tag))
    key = os.environ.get("CHITCHAT_API_KEY", "bench-key")
    start = time.monotonic()
    sent, failed = asyncio.run(
        send_all(base + "/chat-service/apis/message/single", iter(todo), int(concurrency), key)
    )
    print(f"sent {sent} of {len(todo)} in {time.monotonic() - start:.3f} s ({failed} not 200)")
    sys.exit(1 if failed or sent != len(todo) else 0)


if __name__ == "__main__":
    main()
