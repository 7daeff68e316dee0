"""Cross-language ticket worker in Python: configured from the WXTOKEN_*
environment, waits until the Unix time in argv[1] (so that every process
asks at once), gets the jsapi ticket and prints `ticket <ticket>`."""
import os
import sys
import time

import wxtoken

app = wxtoken.configure(os.environ["WXTOKEN_APPID"], os.environ["WXTOKEN_SECRET"])
wait = (float(sys.argv[1]) if len(sys.argv) > 1 else 0) - time.time()
if wait > 0:
    time.sleep(wait)
print(f"ticket {wxtoken.get_ticket(app, 'jsapi')}", flush=True)
