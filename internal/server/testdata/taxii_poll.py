"""Poll forewarn's seclytics-active TAXII collection with the OASIS client.

Usage: taxii_poll.py DISCOVERY_URL KEY [ADDED_AFTER]

Pages through the collection two objects at a time, as a consumer would,
and prints {"objects": [...], "last": X-TAXII-Date-Added-Last of the
newest page} as JSON: the next poll's added_after.
"""
import json
import sys

from taxii2client.v21 import Server, as_pages

url, key = sys.argv[1], sys.argv[2]
kwargs = {"added_after": sys.argv[3]} if len(sys.argv) > 3 and sys.argv[3] else {}
server = Server(url, user="taxii-client", password=key)
collection = next(c for c in server.default.collections if c.title.endswith("active"))
objects, last = [], ""
for envelope in as_pages(collection.get_objects, per_request=2, **kwargs):
    objects.extend(envelope.get("objects", []))
    last = max(last, envelope.headers.get("X-TAXII-Date-Added-Last", ""))
json.dump({"objects": objects, "last": last}, sys.stdout)
