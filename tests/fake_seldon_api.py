"""A fake seldon-server `/js/recommendations` on 127.0.0.1, answering like JsClientController.

Seldon answers API failures with HTTP 200 and a JSONP ErrorBean, so the modes here are what a
broken run really shows: `ok` (items), `error` (ErrorBean), `empty` (no items), `html` (a proxy's
error page), `500`. `modes` is read per request, so a test can switch it mid-run.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OK = {"size": 3, "requested": 10, "list": [{"id": "318", "name": "", "type": 1}, {"id": "296", "name": "", "type": 1},
                                           {"id": "593", "name": "", "type": 1}]}
ERROR = {"error_id": 7, "error_msg": "Invalid consumer key", "http_response": 401}


class FakeSeldonApi:
    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.requests: list[dict] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeSeldonApi":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parsed = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(parsed.query))
                fake.requests.append({"path": parsed.path, **query})
                callback = query.get("jsonpCallback", "j")
                status, body, kind = 200, "", "application/json"
                if parsed.path != "/js/recommendations":
                    status, body = 404, "not found"
                elif fake.mode == "ok":
                    body = f"{callback}({json.dumps(OK)})"
                elif fake.mode == "error":
                    body = f"{callback}({json.dumps(ERROR)})"
                elif fake.mode == "empty":
                    body = f"{callback}({json.dumps({'size': 0, 'requested': 10, 'list': []})})"
                elif fake.mode == "html":
                    body, kind = "<html><body>502 Bad Gateway</body></html>", "text/html"
                else:
                    status, body = int(fake.mode), "Internal Server Error"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
