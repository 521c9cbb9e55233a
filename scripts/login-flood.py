#!/usr/bin/env python3
# Sends N wrong logins at once to a fresh `ballast serve` (after setup) and prints the
# answers and the server's peak resident memory (VmHWM). The figures of
# docs/RELIABILITY.md "The server and the data directory" were measured with it:
#   python3 scripts/login-flood.py target/debug/ballast 150
# (run from the repository root; a binary from before the setup token works too).
import subprocess, sys, json, threading, time, urllib.request, tempfile, socket, re
binary, n = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp()
s = socket.socket(); s.bind(("127.0.0.1",0)); port = s.getsockname()[1]; s.close()
p = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", d], cwd=".", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
token = ""
for line in p.stdout:
    m = re.search(r"setup token: (\w+)", line)
    if m: token = m.group(1); break
    if "first run" in line and "#setup=" not in line: break
threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
time.sleep(0.5)
def post(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"Content-Type":"application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r: return r.status
    except urllib.error.HTTPError as e: return e.code
print("setup", post("/api/setup", {"password":"a long enough password","setup_token":token}))
def rss(kind):
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith(kind): return l.split()[1]+" kB"
print("before", rss("VmRSS"))
res = {}
lock = threading.Lock()
def one():
    c = post("/api/login", {"password":"wrong password","code":"123456"})
    with lock: res[c] = res.get(c,0)+1
ts = [threading.Thread(target=one) for _ in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print("statuses", res, "peak VmHWM", rss("VmHWM"), "now", rss("VmRSS"))
p.terminate(); p.wait()
