#!/usr/bin/env python3
"""Recomputes the hash chain of a Welfare Ledger JSONL export (docs/FORMAT.md §11).

Standard library only; SM3 and the record decoder come from ledger_record.py beside
this file, which is written from docs/FORMAT.md alone. Section numbers (§) refer to
docs/FORMAT.md.

    verify_export.py EXPORT.jsonl      (or - for standard input)

Checks, line by line: the header line; that positions follow each other from the
header's from_position; that each record decodes (§3) and carries the line's position
and prev_hash; that prev_hash is the previous line's hash (32 zero bytes before
position 0); that hash = H(prev_hash ‖ record) (§4); that the decoded event's
envelope matches the record; then that the file holds exactly the header's range and,
when the range ends at the head, that the last hash is the head hash.

Exit status: 0 when the export is intact; 1 with "broken: first bad position P (line
L): why" on standard error; 2 for bad usage or an unreadable file.
"""

import base64
import binascii
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ledger_record  # noqa: E402  (beside this file)

EXPORT_FORMAT = "welfare-ledger-export"
EXPORT_VERSION = 1
HASH_HEX_CHARS = 64


class Broken(Exception):
    """The export fails a check at a position."""

    def __init__(self, position, line, problem):
        super().__init__(problem)
        self.position, self.line, self.problem = position, line, problem


def hash_field(fields, name, position, line):
    value = fields.get(name)
    if not isinstance(value, str) or len(value) != HASH_HEX_CHARS or value != value.lower():
        raise Broken(position, line, f"{name} is not 64 lowercase hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise Broken(position, line, f"{name} is not 64 lowercase hex digits") from None


def read_header(text):
    try:
        header = json.loads(text)
    except json.JSONDecodeError as e:
        raise Broken(None, 1, f"the header line is not JSON: {e}") from None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise Broken(None, 1, f"the first line is not a {EXPORT_FORMAT} header")
    if header.get("version") != EXPORT_VERSION:
        raise Broken(None, 1, f"export version {header.get('version')} is not "
                              f"{EXPORT_VERSION}, the one this script reads")
    if header.get("hash_algorithm") not in ("sha256", "sm3"):
        raise Broken(None, 1, f"unknown hash_algorithm {header.get('hash_algorithm')!r}")
    for name in ("from_position", "to_position", "head_position"):
        if not isinstance(header.get(name), int) or header[name] < 0:
            raise Broken(None, 1, f"{name} is not a position")
    if not header["from_position"] <= header["to_position"] <= header["head_position"]:
        raise Broken(None, 1, "from_position <= to_position <= head_position does not hold")
    return header


def check_envelope(event, record, position, line):
    """The readable `event` must say what the record says (its body is not compared)."""
    expected = {
        "position": record["position"],
        "command_id": record["command_id"],
        "actor": record["actor"],
        "effective_date": (datetime.date(1970, 1, 1)
                           + datetime.timedelta(days=record["effective_date_days"])).isoformat(),
    }
    if not isinstance(event, dict):
        raise Broken(position, line, "event is not an object")
    for name, value in expected.items():
        if event.get(name) != value:
            raise Broken(position, line, f"event.{name} is {event.get(name)!r} but the record "
                                         f"says {value!r}")
    body = event.get("event")
    if not isinstance(body, dict) or list(body) != [record["event_type"]]:
        raise Broken(position, line, f"event.event is not a {record['event_type']} event, "
                                     f"which the record says it is")


def verify(lines):
    """Returns (header, events checked, last hash); raises Broken at the first failure."""
    first = next(lines, None)
    if first is None:
        raise Broken(None, 1, "the file is empty")
    header = read_header(first)
    algorithm = header["hash_algorithm"]
    if algorithm == "sm3":
        ledger_record._check_sm3()
    position = header["from_position"]
    prev = ledger_record.ZERO_HASH if position == 0 else None
    line_number = 1
    for line_number, text in enumerate(lines, start=2):
        if not text.strip():
            raise Broken(position, line_number, "blank line")
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as e:
            raise Broken(position, line_number, f"not JSON: {e}") from None
        if not isinstance(fields, dict):
            raise Broken(position, line_number, "not a JSON object")
        if fields.get("position") != position:
            raise Broken(position, line_number,
                         f"expected position {position} here, the line says "
                         f"{fields.get('position')!r}: a line is missing, added or moved")
        prev_hash = hash_field(fields, "prev_hash", position, line_number)
        stored_hash = hash_field(fields, "hash", position, line_number)
        try:
            record_bytes = base64.b64decode(fields.get("record", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise Broken(position, line_number, "record is not base64") from None
        try:
            record, _ = ledger_record.decode_stored(record_bytes + stored_hash)
        except ledger_record.FormatError as e:
            raise Broken(position, line_number, f"record does not decode: {e}") from None
        if record["position"] != position:
            raise Broken(position, line_number, f"the record claims position {record['position']}")
        if record["prev_hash"] != prev_hash:
            raise Broken(position, line_number, "the record's prev_hash is not the line's prev_hash")
        if prev is not None and prev_hash != prev:
            raise Broken(position, line_number, "prev_hash is not the hash of the line before")
        if ledger_record.chain_hash(algorithm, prev_hash, record_bytes) != stored_hash:
            raise Broken(position, line_number,
                         f"hash is not {algorithm}(prev_hash ‖ record): the record or the hash "
                         f"was altered")
        if fields.get("memo") != record["memo"]:
            raise Broken(position, line_number, "memo is not the record's memo")
        check_envelope(fields.get("event"), record, position, line_number)
        prev = stored_hash
        position += 1
    if position != header["to_position"]:
        raise Broken(position, line_number + 1,
                     f"the file ends before position {header['to_position']}, "
                     f"which the header promises: lines are missing")
    if header["to_position"] == header["head_position"] and prev is not None:
        head_hash = hash_field(header, "head_hash", None, 1)
        if prev != head_hash:
            raise Broken(position - 1, line_number, "the last hash is not the header's head_hash")
    return header, position - header["from_position"], prev


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.reconfigure(encoding="utf-8")
    try:
        if argv[0] == "-":
            handle = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)
        else:
            handle = open(argv[0], encoding="utf-8")
    except OSError as e:
        print(f"cannot read {argv[0]}: {e}", file=sys.stderr)
        return 2
    with handle:
        try:
            header, count, last = verify(line.rstrip("\n") for line in handle)
        except Broken as e:
            where = "the header" if e.position is None else f"first bad position {e.position}"
            print(f"broken: {where} (line {e.line}): {e.problem}", file=sys.stderr)
            return 1
        except UnicodeDecodeError as e:
            print(f"broken: the file is not UTF-8: {e}", file=sys.stderr)
            return 1
    print(f"intact: {count} records, {header['hash_algorithm']}, positions "
          f"{header['from_position']}..{header['to_position']}")
    if last is not None:
        print(f"last_hash {last.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
