#!/usr/bin/env python3
"""Independent decoder and chain verifier for Welfare Ledger records (format versions 1 and 2).

Written only from docs/FORMAT.md, with the Python standard library only, so that an
auditor can check a ledger without trusting the Rust code that wrote it. Section
numbers (§) refer to docs/FORMAT.md.

    ledger_record.py header FILE                      decode a ledger header (§2)
    ledger_record.py decode FILE...                   print stored values as JSON lines (§3)
    ledger_record.py chunk FILE...                    print the stored values in chunks, plain
                                                      or compressed, as JSON lines (§8)
    ledger_record.py verify --hash sha256|sm3 FILE... check consecutive records from
                                                      position 0 (§4, §6); prints the record
                                                      count and head hash to compare with
                                                      the head marker (§5)

Exit status: 0 when everything decodes (and, for verify, the chain is intact);
1 with a message on standard error naming the first bad file or position; 2 for
bad usage.
"""

import argparse
import datetime
import hashlib
import json
import struct
import sys

FORMAT_VERSION = 2  # §7: the newest header format version this script reads
FORMAT_VERSION_OLDEST = 1  # §7: the oldest one
MAGIC = b"WLEDGER\x00"  # §2
RECORD_LAYOUT = 1  # §3: the only record layout this script reads
HASH_BYTES = 32
ZERO_HASH = bytes(HASH_BYTES)  # §4: the predecessor of position 0
BODY_BYTES_MAX = 65536  # §3: longest record body a reader accepts
DAYS_MIN, DAYS_MAX = -96_465_292, 95_026_236  # §3: effective_date_days range
ALGORITHMS = {1: "sha256", 2: "sm3"}  # §2: header hash_algorithm codes
COMPRESSED_CHUNK_TAG = bytes(4)  # §8: the first four bytes of a compressed chunk
CHUNK_PLAIN_BYTES_MAX = 4 + 65536  # §8: most bytes a compressed chunk decompresses to


class FormatError(Exception):
    """Bytes that are not what format versions 1 and 2 allow."""


# ---------------------------------------------------------------- SM3 (GB/T 32905-2016)

_M32 = 0xFFFFFFFF
_SM3_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600,
           0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)


def _rotl(x, n):
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _M32


def sm3(data):
    """SM3 digest of `data` (32 bytes), straight from the standard's sections 5.2-5.4."""
    bit_length = len(data) * 8
    # Padding: a 1 bit, zeros up to 448 mod 512 bits, then the length as a 64-bit big-endian.
    message = bytes(data) + b"\x80" + bytes((55 - len(data)) % 64) + struct.pack(">Q", bit_length)
    v = list(_SM3_IV)
    for block in range(0, len(message), 64):
        w = list(struct.unpack(">16I", message[block:block + 64]))
        for j in range(16, 68):
            x = w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)
            p1 = x ^ _rotl(x, 15) ^ _rotl(x, 23)
            w.append(p1 ^ _rotl(w[j - 13], 7) ^ w[j - 6])
        w1 = [w[j] ^ w[j + 4] for j in range(64)]
        a, b, c, d, e, f, g, h = v
        for j in range(64):
            t = 0x79CC4519 if j < 16 else 0x7A879D8A
            ss1 = _rotl((_rotl(a, 12) + e + _rotl(t, j)) & _M32, 7)
            ss2 = ss1 ^ _rotl(a, 12)
            if j < 16:
                ff, gg = a ^ b ^ c, e ^ f ^ g
            else:
                ff, gg = (a & b) | (a & c) | (b & c), (e & f) | (~e & g)
            tt1 = (ff + d + ss2 + w1[j]) & _M32
            tt2 = (gg + h + ss1 + w[j]) & _M32
            d, c, b, a = c, _rotl(b, 9), a, tt1
            h, g, f, e = g, _rotl(f, 19), e, tt2 ^ _rotl(tt2, 9) ^ _rotl(tt2, 17)
        v = [x ^ y for x, y in zip(v, (a, b, c, d, e, f, g, h))]
    return struct.pack(">8I", *v)


def _check_sm3():
    """The two example digests of GB/T 32905-2016 appendix A; refuse to verify if wrong."""
    vectors = {
        b"abc": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
        b"abcd" * 16: "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
    }
    for message, expected in vectors.items():
        if sm3(message).hex() != expected:
            raise SystemExit("internal error: this SM3 implementation fails its test vector")


def chain_hash(algorithm, prev_hash, record_bytes):
    """§4: hash_n = H(hash_{n-1} ‖ record_bytes_n)."""
    if algorithm == "sha256":
        return hashlib.sha256(prev_hash + record_bytes).digest()
    return sm3(prev_hash + record_bytes)


# ---------------------------------------------------------------- primitive reader (§1)

class Reader:
    """Reads §1's primitives from the front of `data`, refusing to run past its end."""

    INTS = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q", "i32": "<i", "i64": "<q"}

    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if n > len(self.data) - self.at:
            raise FormatError(f"cut short: {n} bytes wanted at byte {self.at}, "
                              f"{len(self.data) - self.at} left")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def read(self, kind):
        if kind in self.INTS:
            fmt = self.INTS[kind]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if kind == "hash32":
            return self.take(HASH_BYTES)
        if kind == "bytes":
            return self.take(self.read("u64"))
        if kind == "string":
            raw = self.read("bytes")
            try:
                return raw.decode("utf-8")  # strict: refuses overlong forms and surrogates
            except UnicodeDecodeError as e:
                raise FormatError(f"a string is not valid UTF-8: {e}") from None
        raise ValueError(kind)

    def finish(self):
        if self.at != len(self.data):
            raise FormatError(f"{len(self.data) - self.at} trailing bytes after the last field")


# ---------------------------------------------------------------- header (§2)

def decode_header(data):
    if len(data) < 10 or data[:8] != MAGIC:
        raise FormatError("the header does not start with the Welfare Ledger magic bytes")
    version = struct.unpack("<H", data[8:10])[0]
    if version > FORMAT_VERSION:
        raise FormatError(f"format version {version} is newer than this script reads "
                          f"({FORMAT_VERSION}); use a newer ledger_record.py")
    if version < FORMAT_VERSION_OLDEST:
        raise FormatError(f"unknown format version {version}")
    r = Reader(data)
    r.take(10)
    code, created_at_ms = r.read("u8"), r.read("i64")
    r.finish()
    if code not in ALGORITHMS:
        raise FormatError(f"unknown hash algorithm code {code}")
    return {"format_version": version, "hash_algorithm": ALGORITHMS[code],
            "hash_algorithm_code": code, "created_at_ms": created_at_ms,
            "created_at": utc_text(created_at_ms)}


# ---------------------------------------------------------------- record (§3)

# The record body, layout 1, in byte order: the table of §3.
RECORD_FIELDS = [
    ("position", "u64"), ("prev_hash", "hash32"), ("recorded_at_ms", "i64"),
    ("command_id", "string"), ("command_event_index", "u32"), ("command_event_count", "u32"),
    ("stream", "string"), ("stream_version", "u64"), ("event_type", "string"),
    ("schema_version", "u16"), ("actor", "string"), ("effective_date_days", "i32"),
    ("memo", "string"), ("payload", "bytes"),
]

IDENTIFIER_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
# Unicode White_Space outside the control characters, which are refused anyway (§3).
WHITE_SPACE = set(" \u00a0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}


def check_identifier(name, value, max_bytes):
    size = len(value.encode("utf-8"))
    if not 1 <= size <= max_bytes:
        raise FormatError(f"{name} is {size} bytes long; it must be 1 to {max_bytes}")
    if not value[0].isascii() or not value[0].isalnum():
        raise FormatError(f"{name} {value!r} must start with an ASCII letter or digit")
    if not set(value) <= IDENTIFIER_CHARS or ".." in value:
        raise FormatError(f"{name} {value!r} has a character other than A-Z a-z 0-9 - _ . : or '..'")


def check_text(name, value, max_bytes, allow_empty):
    size = len(value.encode("utf-8"))
    if size > max_bytes:
        raise FormatError(f"{name} is {size} bytes long; the maximum is {max_bytes}")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise FormatError(f"{name} {value!r} contains a control character")
    if not allow_empty and all(c in WHITE_SPACE for c in value):
        raise FormatError(f"{name} is empty or only white space")


def decode_stored(value):
    """§3: a stored value is record bytes ‖ 32-byte hash. Returns (fields, record bytes)."""
    if len(value) <= HASH_BYTES:
        raise FormatError(f"stored value of {len(value)} bytes is too short to hold a record and its hash")
    record, stored_hash = value[:-HASH_BYTES], value[-HASH_BYTES:]
    if record[0] != RECORD_LAYOUT:
        raise FormatError(f"unknown record layout {record[0]}; this script reads layout {RECORD_LAYOUT}")
    body = record[1:]
    if len(body) > BODY_BYTES_MAX:
        raise FormatError(f"record body of {len(body)} bytes is over the {BODY_BYTES_MAX}-byte limit")
    r = Reader(body)
    fields = {name: r.read(kind) for name, kind in RECORD_FIELDS}
    r.finish()
    for name, max_bytes in (("command_id", 128), ("stream", 128), ("event_type", 64)):
        check_identifier(name, fields[name], max_bytes)
    check_text("actor", fields["actor"], 128, allow_empty=False)
    check_text("memo", fields["memo"], 1024, allow_empty=True)
    index, count = fields["command_event_index"], fields["command_event_count"]
    if count == 0 or index >= count:
        raise FormatError(f"event index {index} is outside its command of {count} events")
    days = fields["effective_date_days"]
    if not DAYS_MIN <= days <= DAYS_MAX:
        raise FormatError(f"effective date {days} days from 1970-01-01 is out of range")
    fields["hash"] = stored_hash
    return fields, record


def utc_text(ms):
    try:
        moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(milliseconds=ms)
    except OverflowError:
        return None  # outside Python's years 1-9999; the raw number is printed beside it
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_json(fields):
    out = {"layout": RECORD_LAYOUT}
    for name, value in fields.items():
        out[name] = value.hex() if isinstance(value, bytes) else value
    out["recorded_at"] = utc_text(fields["recorded_at_ms"])
    try:
        out["effective_date"] = (datetime.date(1970, 1, 1)
                                 + datetime.timedelta(days=fields["effective_date_days"])).isoformat()
    except OverflowError:
        out["effective_date"] = None
    return out


# ---------------------------------------------------------------- verification (§6)

class ChainChecker:
    """Checks records one by one, in position order, as §6 lists."""

    def __init__(self, algorithm):
        self.algorithm = algorithm
        self.next_position = 0
        self.prev_hash = ZERO_HASH
        self.open_command = None  # (command id, next index, count, first position)
        self.stream_versions = {}

    def check(self, value):
        position = self.next_position
        fields, record = decode_stored(value)                                   # §6 step 1
        if fields["position"] != position:                                      # step 2
            raise FormatError(f"record claims position {fields['position']}")
        if fields["prev_hash"] != self.prev_hash:                               # step 3
            raise FormatError("its prev_hash is not the stored hash of the record before it")
        stream, expected = fields["stream"], self.stream_versions.get(fields["stream"], 0)
        if fields["stream_version"] != expected:                                # step 4
            raise FormatError(f"it claims version {fields['stream_version']} of stream {stream}, "
                              f"which is at version {expected} next")
        self.check_command(fields, position)                                    # step 5
        if chain_hash(self.algorithm, self.prev_hash, record) != fields["hash"]:  # step 6
            raise FormatError("its bytes do not hash to the stored hash: the record was altered")
        self.stream_versions[stream] = expected + 1
        self.prev_hash = fields["hash"]
        self.next_position += 1

    def check_command(self, fields, position):
        key = (fields["command_id"], fields["command_event_index"], fields["command_event_count"])
        if self.open_command is None:
            if key[1] != 0:
                raise FormatError(f"event {key[1]} of command {key[0]} has no start")
            self.open_command = (key[0], 1, key[2], position)
        else:
            command_id, next_index, count, first = self.open_command
            if key != (command_id, next_index, count):
                raise FormatError(f"command {command_id} is incomplete: "
                                  f"expected its event {next_index} of {count} here")
            self.open_command = (command_id, next_index + 1, count, first)
        if self.open_command[1] == self.open_command[2]:
            self.open_command = None

    def finish(self):
        """§6 step 8: the last command must be complete. Returns (position, problem) or None."""
        if self.open_command is not None:
            command_id, next_index, count, first = self.open_command
            return first, (f"command {command_id} ends after {next_index} of its {count} events "
                           f"at position {self.next_position}: a partial batch")
        return None


# ---------------------------------------------------------------- commands

def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def fail(message):
    print(message, file=sys.stderr)
    return 1


def cmd_header(args):
    try:
        print(json.dumps({"file": args.file, **decode_header(read_file(args.file))}))
    except FormatError as e:
        return fail(f"{args.file}: {e}")
    return 0


# ---------------------------------------------------------------- chunks (§8)

def _lz4_length(block, at, length):
    """An LZ4 length field's extension: bytes added while each is 255."""
    while True:
        if at >= len(block):
            raise FormatError("the LZ4 block ends inside a length")
        extra = block[at]
        at += 1
        length += extra
        if extra != 255:
            return at, length


def lz4_block_decompress(block, size):
    """One LZ4 block (the LZ4 block format, §8) decompressed to exactly `size` bytes."""
    out = bytearray()
    at = 0
    while True:
        if at >= len(block):
            raise FormatError("the LZ4 block ends before its last sequence")
        token = block[at]
        at += 1
        literals = token >> 4
        if literals == 15:
            at, literals = _lz4_length(block, at, literals)
        if at + literals > len(block):
            raise FormatError("LZ4 literals run past the block's end")
        out += block[at:at + literals]
        at += literals
        if at == len(block):
            break  # the last sequence has literals only
        if at + 2 > len(block):
            raise FormatError("the LZ4 block ends inside a match offset")
        offset = block[at] | (block[at + 1] << 8)
        at += 2
        if offset == 0 or offset > len(out):
            raise FormatError(f"an LZ4 match offset of {offset} points outside the {len(out)} bytes so far")
        match = token & 15
        if match == 15:
            at, match = _lz4_length(block, at, match)
        start = len(out) - offset
        for i in range(match + 4):  # a match may overlap the bytes it produces
            out.append(out[start + i])
        if len(out) > size:
            raise FormatError(f"the LZ4 block decompresses to more than the {size} bytes its chunk gives")
    if len(out) != size:
        raise FormatError(f"the LZ4 block decompresses to {len(out)} bytes, not the {size} its chunk gives")
    return bytes(out)


def chunk_values(chunk):
    """§8: the stored values of a chunk, plain or compressed, in order."""
    if chunk[:4] == COMPRESSED_CHUNK_TAG:
        if len(chunk) < 8:
            raise FormatError("compressed chunk has a truncated length")
        size = struct.unpack("<I", chunk[4:8])[0]
        if not 1 <= size <= CHUNK_PLAIN_BYTES_MAX:
            raise FormatError(f"compressed chunk gives a length of {size} bytes, "
                              f"outside 1..={CHUNK_PLAIN_BYTES_MAX}")
        chunk = lz4_block_decompress(chunk[8:], size)
    values, at = [], 0
    while at < len(chunk):
        if at + 4 > len(chunk):
            raise FormatError("chunk entry has a truncated length")
        length = struct.unpack("<I", chunk[at:at + 4])[0]
        if at + 4 + length > len(chunk):
            raise FormatError(f"chunk entry of {length} bytes runs past the chunk's end")
        values.append(chunk[at + 4:at + 4 + length])
        at += 4 + length
    return values


def cmd_chunk(args):
    for path in args.files:
        try:
            values = chunk_values(read_file(path))
            decoded = [decode_stored(value)[0] for value in values]
        except FormatError as e:
            return fail(f"{path}: {e}")
        for index, fields in enumerate(decoded):
            print(json.dumps({"file": path, "entry": index, **as_json(fields)}, ensure_ascii=False))
    return 0


def cmd_decode(args):
    for path in args.files:
        try:
            fields, _ = decode_stored(read_file(path))
        except FormatError as e:
            return fail(f"{path}: {e}")
        print(json.dumps({"file": path, **as_json(fields)}, ensure_ascii=False))
    return 0


def cmd_verify(args):
    if args.hash == "sm3":
        _check_sm3()
    checker = ChainChecker(args.hash)
    for path in args.files:
        position = checker.next_position
        try:
            checker.check(read_file(path))
        except FormatError as e:
            return fail(f"broken: first bad position {position} ({path}): {e}")
    broken = checker.finish()
    if broken is not None:
        return fail(f"broken: first bad position {broken[0]}: {broken[1]}")
    print(f"intact: {checker.next_position} records, {args.hash}")
    print(f"head_hash {checker.prev_hash.hex()}")
    return 0


def main(argv=None):
    sys.stdout.reconfigure(encoding="utf-8")  # memos and actors are often Chinese
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("header", help="decode a ledger header")
    p.add_argument("file")
    p.set_defaults(run=cmd_header)
    p = sub.add_parser("decode", help="print each stored value's fields as one JSON line")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(run=cmd_decode)
    p = sub.add_parser("chunk", help="print the stored values of chunks (plain or compressed) as JSON lines")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(run=cmd_chunk)
    p = sub.add_parser("verify", help="verify stored values as consecutive records from position 0")
    p.add_argument("--hash", required=True, choices=["sha256", "sm3"])
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(run=cmd_verify)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
