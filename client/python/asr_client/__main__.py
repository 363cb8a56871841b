"""python3 -m asr_client: reflection-based calls from the command line.

    python3 -m asr_client services HOST:PORT
    python3 -m asr_client call HOST:PORT package.Service/Method '{"json": "request"}'
"""
import argparse
import sys

from asr_client.client import Error
from asr_client.reflection import call, services


def main() -> int:
    p = argparse.ArgumentParser(prog="python3 -m asr_client", description="calls through gRPC reflection")
    p.add_argument("--token-file", help="file holding the server's bearer token")
    p.add_argument("--tls-ca", help="PEM file of the CA that signed the server's certificate")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("services", help="list the services the server serves")
    s.add_argument("target")
    c = sub.add_parser("call", help="call a unary method with a JSON request; prints the JSON response")
    c.add_argument("target")
    c.add_argument("method", help="package.Service/Method, e.g. asr.v1.InfoService/GetServerInfo")
    c.add_argument("request", nargs="?", default="{}", help="the request as JSON (default {})")
    a = p.parse_args()
    token = None
    if a.token_file:
        with open(a.token_file) as f:
            token = f.read().strip()
    try:
        if a.command == "services":
            print("\n".join(services(a.target, a.tls_ca)))
        else:
            print(call(a.target, a.method, a.request, token=token, tls_ca=a.tls_ca))
    except Error as e:
        print(f"asr_client: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
