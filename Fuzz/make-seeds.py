#!/usr/bin/env python3
"""Writes the seed corpus for the AgencyBus fuzz targets into Fuzz/corpus/{wire,header}/.

Seeds are well-formed messages of every command and header kind (taken from the examples in
docs/protocol.md), so the fuzzer starts from inputs that reach deep into the decoders instead
of having to discover "AGB1" and a JSON object first. Signatures are 64 placeholder bytes:
the decode path checks only their length, never the signature itself.

Deterministic (no clock, no randomness): rerunning it rewrites the same files. Run it again
after changing a header format:  python3 Fuzz/make-seeds.py
"""
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SIG = b"\x5a" * 64


def sample(name):
    """A captured broker answer (Fuzz/samples/NAME), without its trailing newline."""
    with open(os.path.join(HERE, "samples", name), "rb") as f:
        return f.read().rstrip(b"\n")


def header(obj):
    # The library's encoder: sorted keys, no spaces, slashes not escaped.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def wire(*frames):
    """The `wire` target's layout: byte 0 = frame count, then 2-byte big-endian length + bytes."""
    assert len(frames) < 16
    out = bytes([len(frames)])
    for f in frames:
        assert len(f) <= 0xFFFF
        out += struct.pack(">H", len(f)) + f
    return out


ATTACHMENT = b"Daftar peserta rapat koordinasi\n"
LETTER = {
    "attachments": [{"mediaType": "text/plain", "name": "daftar-peserta.txt",
                     "sha256": hashlib.sha256(ATTACHMENT).hexdigest(), "size": len(ATTACHMENT)}],
    "body": "Dengan hormat,\nSehubungan dengan penerapan SPBE, kami mengundang Bapak/Ibu untuk hadir.",
    "cc": ["pemprov-jateng/diskominfo"],
    "classification": "biasa",
    "created": "2026-03-02T02:15:07.412Z",
    "date": "2026-03-02",
    "from": "pemkot-semarang/diskominfo",
    "id": "01KJP57VCMTSZ1KY5CEFFXFNZ9",
    "kind": "letter",
    "number": "B/045/555/III/2026",
    "subject": "Undangan Rapat Koordinasi Interoperabilitas Layanan Persuratan Elektronik",
    "to": ["pemkot-bandung/diskominfo"],
    "urgency": "segera",
    "v": 1,
}
LETTER_PLAIN = dict(LETTER, attachments=[], cc=[], replyTo="01KJP57VCMTSZ1KY5CEFFXFNZ8",
                    classification="rahasia", urgency="sangat-segera", created="2026-03-02T02:15:07Z")
DISPOSITION = {
    "created": "2026-12-03T20:12:04.550Z", "from": "pemkot-semarang/setda", "id": "01M8YRJ626A9HC27NEXNWDNTBX",
    "instructions": ["koordinasikan", "laporkan"], "kind": "disposition", "letter": "01M8YRJ4ERW5QB2M5183SDV49X",
    "note": "Koordinasikan dengan Diskominfo Provinsi dan laporkan hasilnya.", "parent": "01M8YRJ602CRZQRJKX7FYY86QG",
    "to": ["pemkot-semarang/diskominfo", "pemprov-jateng/diskominfo"], "urgency": "biasa", "v": 1,
    "due": "2026-12-17",
}
STATUS = {
    "created": "2026-12-03T20:12:06.204Z", "from": "pemprov-jateng/diskominfo", "id": "01M8YRJ7NWQRBBNTZ1WECD44AQ",
    "item": "01M8YRJ626A9HC27NEXNWDNTBX", "kind": "status", "letter": "01M8YRJ4ERW5QB2M5183SDV49X",
    "note": "Rapat koordinasi SPBE terlaksana 5 Desember", "status": "done", "to": "pemkot-semarang", "v": 1,
}
RECEIPT = {
    "created": "2026-03-02T02:15:08.031Z", "from": "pemkot-bandung", "id": "01KJP57VZZV491RWNE0G7J491H",
    "items": [{"id": "01KJP57VCMTSZ1KY5CEFFXFNZ9", "sha256": "7dd14357c42e0f20e166ae5ed0dbfcee25c160cacc15a2451afa906744b04b5e",
               "status": "stored"},
              {"id": "01KJP57VCMTSZ1KY5CEFFXFNZ8", "sha256": "7DD14357C42E0F20E166AE5ED0DBFCEE25C160CACC15A2451AFA906744B04B5E",
               "status": "rejected", "reason": "bad-signature"}],
    "kind": "receipt", "to": "pemkot-semarang", "v": 1,
}
ACCEPTANCE = {
    "created": "2026-03-02T02:15:07.498Z", "from": "nasional", "id": "01KJP57VFAKPFR0ZRBV4Q84QES",
    "items": [{"id": "01KJP57VCMTSZ1KY5CEFFXFNZ9", "sha256": "7dd14357c42e0f20e166ae5ed0dbfcee25c160cacc15a2451afa906744b04b5e"}],
    "kind": "acceptance", "to": "pemkot-semarang", "v": 1,
}
TRACE = {
    "letter": "01M8YRJ4ERW5QB2M5183SDV49X", "query": "01M8YRJ602CRZQRJKX7FYY86QG",
    "events": [
        {"at": "2026-12-03T20:12:02.904Z", "detail": "B/1207/M.KT.01/2026", "item": "01M8YRJ4ERW5QB2M5183SDV49X",
         "kind": "sent", "letter": "01M8YRJ4ERW5QB2M5183SDV49X", "place": "kemenpanrb/deputi-kelembagaan", "signer": "kemenpanrb"},
        {"at": "2026-12-03T20:12:04.482Z", "detail": "tindak-lanjuti,siapkan-jawaban", "item": "01M8YRJ602CRZQRJKX7FYY86QG",
         "kind": "disposed", "letter": "01M8YRJ4ERW5QB2M5183SDV49X", "place": "pemkot-semarang/walikota", "signer": "pemkot-semarang"},
    ],
    "items": [
        {"from": "kemenpanrb", "id": "01M8YRJ4ERW5QB2M5183SDV49X", "kind": "letter", "subject": "Surat Edaran SPBE",
         "to": ["pemkot-semarang", "anri"], "urgency": "segera"},
        {"due": "2026-12-17", "from": "pemkot-semarang", "id": "01M8YRJ602CRZQRJKX7FYY86QG",
         "instructions": ["tindak-lanjuti", "siapkan-jawaban"], "kind": "disposition", "parent": None,
         "note": "Segera", "to": ["pemkot-semarang/setda"]},
    ],
}
TOPOLOGY = {
    "brokers": [{"id": "nasional", "endpoint": "tcp://127.0.0.1:7450",
                 "publicKey": "ed25519:O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="}],
    "agencies": [
        {"id": "pemkot-semarang", "name": "Pemerintah Kota Semarang", "broker": "nasional", "publicKey": "",
         "timeZone": "Asia/Jakarta", "units": [{"id": "diskominfo", "name": "Diskominfo"}, {"id": "setda", "name": "Setda"}]},
        {"id": "anri", "name": "Arsip Nasional", "broker": "nasional", "publicKey": "ed25519:AAAA", "revoked": True,
         "units": []},
    ],
    "operators": [{"id": "ops-nasional", "publicKey": ""}],
}


def nested(depth):
    """A header whose extra field nests `depth` arrays: JSONDecoder refuses more than 512."""
    return (b'{"created":"2026-03-02T02:15:07.412Z","from":"anri","id":"01KJP57VCMTSZ1KY5CEFFXFNZ9",'
            b'"kind":"letter","v":1,"x":' + b"[" * depth + b"]" * depth + b"}")


def seeds():
    h = {k: header(v) for k, v in [("letter", LETTER), ("letter-plain", LETTER_PLAIN), ("disposition", DISPOSITION),
                                   ("status", STATUS), ("receipt", RECEIPT), ("acceptance", ACCEPTANCE)]}
    trace = header(TRACE)
    header_seeds = dict(h)
    header_seeds.update({
        "trace-report": trace,
        "topology": header(TOPOLOGY),
        "topology-demo": open(os.path.join(ROOT, "topology", "demo.json"), "rb").read(),
        "timestamp": b"2026-12-03T19:52:38.123Z",
        "timestamp-seconds": b"2024-02-29T23:59:59Z",
        "address": b"pemkot-semarang/diskominfo",
        "ulid": b"01KJP57VCMTSZ1KY5CEFFXFNZ9",
        "nested-511": nested(511),
    })
    id_ = b"01KJP57VCMTSZ1KY5CEFFXFNZ9"
    wire_seeds = {
        "submit-letter": wire(b"AGB1", b"SUBMIT", h["letter"], SIG, ATTACHMENT),
        "submit-letter-plain": wire(b"AGB1", b"SUBMIT", h["letter-plain"], SIG),
        "submit-disposition": wire(b"AGB1", b"SUBMIT", h["disposition"], SIG),
        "submit-status": wire(b"AGB1", b"SUBMIT", h["status"], SIG),
        "receipt": wire(b"AGB1", b"RECEIPT", h["receipt"], SIG),
        "subscribe": wire(b"AGB1", b"SUBSCRIBE"),
        "ping": wire(b"AGB1", b"PING"),
        "trace": wire(b"AGB1", b"TRACE", id_),
        "accepted": wire(b"AGB1", b"ACCEPTED", h["acceptance"], SIG),
        "deliver-letter": wire(b"AGB1", b"DELIVER", h["letter"], SIG, ATTACHMENT),
        "deliver-receipt": wire(b"AGB1", b"DELIVER", h["receipt"], SIG),
        "refused": wire(b"AGB1", b"REFUSED", id_, b"invalid", b"subject: must not be empty"),
        "subscribed": wire(b"AGB1", b"SUBSCRIBED", b"pemkot-semarang"),
        "pong": wire(b"AGB1", b"PONG", b"1"),
        "traced": wire(b"AGB1", b"TRACED", trace),
        # Operators (protocol §10): real STATS/EVENT bodies captured from a broker (Fuzz/samples/).
        "stats-request": wire(b"AGB1", b"STATS"),
        "watch": wire(b"AGB1", b"WATCH"),
        "stats": wire(b"AGB1", b"STATS", sample("stats.json")),
        "event-accepted": wire(b"AGB1", b"EVENT", sample("event-accepted.json")),
        "event-delivered": wire(b"AGB1", b"EVENT", sample("event-delivered.json")),
        "garbage-empty-frames": wire(b"", b"", b""),
    }
    return {"wire": wire_seeds, "header": header_seeds}


def main():
    for target, files in seeds().items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(files)} seeds in {os.path.relpath(d, ROOT)}")


if __name__ == "__main__":
    main()
