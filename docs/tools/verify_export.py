#!/usr/bin/env python3
"""Recomputes the hash chain of a Welfare Ledger JSONL export (docs/FORMAT.md §11).

Standard library only; SM3 and the record decoder come from ledger_record.py beside
this file, which is written from docs/FORMAT.md alone. Section numbers (§) refer to
docs/FORMAT.md.

    verify_export.py EXPORT.jsonl      (or - for standard input)

Checks, line by line: the header line; that positions follow each other from the
header's from_position; that each record decodes (§3) and carries the line's position
and prev_hash; that prev_hash is the previous line's hash (32 zero bytes before
position 0); that hash = H(prev_hash ‖ record) (§4); that the readable `memo` and
`event` say exactly what the record says, envelope and payload (the payload decoded
here as §10 says, with the Event enum of crates/domain/src/event.rs transcribed below);
then that the file holds exactly the header's range and, when the range ends at the
head, that the last hash is the head hash.

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


# ---------------------------------------------------------------- event payloads (§10)
#
# The engine's payload is bincode (§1 conventions) of (digest: Option<[u8; 32]>, event:
# Event). Event is the enum of crates/domain/src/event.rs, transcribed below: an enum
# is a u32 variant index (its position in the list) followed by the variant's fields in
# order; ids and text are `string`; money is an i64 count of fen; dates are `string`s
# `YYYY-MM-DD`; Option is a u8 0/1 then the value; sets and lists are a u64 count then
# the items. The decoding is the JSON the export writes (serde's externally tagged form,
# money as "1234.56"), so the two can be compared value for value.

STR, AMOUNT, DATE, BOOL, DIGEST = "string", "amount", "date", "bool", "digest"
U8, U16, U32, U64, I32 = "u8", "u16", "u32", "u64", "i32"


def opt(kind):
    return ("option", kind)


def seq(kind):
    return ("seq", kind)


def struct(*fields):
    return ("struct", fields)


def enum(*variants):
    """Variants are names (unit), or (name, struct(...)) / (name, ("newtype", kind))."""
    return ("enum", [(v, None) if isinstance(v, str) else v for v in variants])


def newtype(kind):
    return ("newtype", kind)


UNIT_LEVEL = enum("Province", "City", "County", "Township", "Village")
PROGRAMME = enum("HappinessProject", "RevolvingFund", "Housing", "Bursary", "Insurance",
                 "Condolence")
TIER = enum("Province", "City", "County", "Township", "Village", "HouseholdContribution",
            "Insurer", "Donation", "Interest")
BENEFICIARY_KIND = enum("Household", "Person")
CATEGORY = enum("PoorHousehold", "SpecialFamily", "OnlyChild", "TwoDaughters", "Migrant",
                "Student", "Mother")
MODALITY = enum("Relief", "Skills", "Health")
ROLE = enum("clerk", "approver", "manager", "auditor", "admin")
PERSONAL_DATA_ACTION = enum("read", "look_up_by_id_number", "update_contact")
LINE = enum("HouseholdAccident", "HospitalNursing", "CriticalIllness")
MODEL = enum("InsurerUnderwritten", "SelfInsured")
VISIT = enum("InProgress", "Completed", "NeedsHelp")
SPLIT = seq(struct(("tier", TIER), ("amount", AMOUNT)))
PERIOD = enum(("Year", struct(("year", I32))), ("Month", struct(("year", I32), ("month", U32))))
FORM = enum("Cash", ("Goods", struct(("description", STR))))
PAYER = enum("Insurer", ("Fund", struct(("shares", SPLIT))))
LOAN = struct(("loan", STR), ("fund", STR), ("beneficiary", STR), ("tier", TIER),
              ("principal", AMOUNT), ("term_months", U16), ("grace_months", U16),
              ("annual_rate_bp", U16), ("batch", opt(STR)), ("migrant", BOOL))
GRANT = struct(("fund", STR), ("beneficiary", STR), ("modality", MODALITY),
               ("batch", opt(STR)), ("amount", AMOUNT), ("shares", SPLIT))
CLAIM = struct(("fund", STR), ("line", LINE), ("beneficiary", STR), ("amount", AMOUNT),
               ("payer", PAYER))
PAYMENT = enum(
    ("Loan", newtype(LOAN)),
    ("Grant", newtype(GRANT)),
    ("HousingInstalment", newtype(struct(("award", STR), ("amount", AMOUNT), ("shares", SPLIT)))),
    ("BursaryInstalment", newtype(struct(("award", STR), ("amount", AMOUNT)))),
    ("Condolence", newtype(struct(("campaign", STR), ("beneficiary", STR),
                                  ("category", CATEGORY), ("form", FORM), ("amount", AMOUNT),
                                  ("shares", SPLIT)))),
    ("Claim", newtype(CLAIM)),
    ("Premium", newtype(struct(("fund", STR), ("line", LINE), ("coverage_start", DATE),
                               ("coverage_end", DATE), ("households", U32), ("persons", U32),
                               ("tax_inclusive", AMOUNT), ("tax_exclusive", AMOUNT),
                               ("shares", SPLIT)))),
)
PURPOSE = enum("Grant", ("HousingInstalment", struct(("award", STR))),
               ("BursaryInstalment", struct(("award", STR))), "Condolence",
               ("Claim", struct(("line", LINE))))
FUND_TIER_AMOUNT = struct(("fund", STR), ("tier", TIER), ("amount", AMOUNT))
REVERSIBLE = enum(
    ("Commitment", FUND_TIER_AMOUNT),
    ("Receipt", FUND_TIER_AMOUNT),
    ("Loan", struct(("fund", STR), ("loan", STR), ("tier", TIER), ("principal", AMOUNT))),
    ("Repayment", struct(("fund", STR), ("loan", STR), ("tier", TIER), ("principal", AMOUNT),
                         ("interest", AMOUNT))),
    ("WriteOff", struct(("fund", STR), ("loan", STR), ("tier", TIER), ("amount", AMOUNT))),
    ("Payment", struct(("fund", STR), ("purpose", PURPOSE), ("shares", SPLIT))),
    ("Premium", struct(("fund", STR), ("line", LINE), ("model", MODEL), ("shares", SPLIT),
                       ("tax_exclusive", AMOUNT), ("households", U32), ("persons", U32))),
    ("InsurerClaim", struct(("fund", STR), ("line", LINE), ("amount", AMOUNT))),
    ("HousingAward", struct(("fund", STR), ("award", STR))),
    ("BursaryAward", struct(("fund", STR), ("award", STR))),
)
APPROPRIATION = struct(("fund", STR), ("tier", TIER), ("amount", AMOUNT),
                       ("reference", opt(STR)))
EVENT = enum(
    ("UnitRegistered", struct(("unit", STR), ("name", STR), ("level", UNIT_LEVEL),
                              ("parent", opt(STR)))),
    ("FundOpened", struct(("fund", STR), ("unit", STR), ("programme", PROGRAMME), ("name", STR),
                          ("fiscal_year", opt(I32)), ("approval_threshold", opt(AMOUNT)),
                          ("insurance_model", opt(MODEL)))),
    ("ApprovalThresholdSet", struct(("fund", STR), ("threshold", opt(AMOUNT)))),
    ("BeneficiaryRegistered", struct(("beneficiary", STR), ("unit", STR),
                                     ("kind", BENEFICIARY_KIND), ("categories", seq(CATEGORY)))),
    ("AppropriationCommitted", APPROPRIATION),
    ("AppropriationReceived", APPROPRIATION),
    ("LoanDisbursed", newtype(LOAN)),
    ("LoanRepaid", struct(("loan", STR), ("fund", STR), ("tier", TIER), ("principal", AMOUNT),
                          ("interest", AMOUNT))),
    ("LoanRescheduled", struct(("loan", STR), ("fund", STR), ("outstanding", AMOUNT),
                               ("term_months", U16), ("grace_months", U16),
                               ("annual_rate_bp", U16))),
    ("LoanWrittenOff", struct(("loan", STR), ("fund", STR), ("tier", TIER), ("amount", AMOUNT),
                              ("reason", STR))),
    ("GrantPaid", newtype(GRANT)),
    ("HousingGrantAwarded", struct(("award", STR), ("fund", STR), ("beneficiary", STR),
                                   ("amount", AMOUNT), ("shares", SPLIT))),
    ("HousingInstalmentPaid", struct(("award", STR), ("fund", STR), ("beneficiary", STR),
                                     ("amount", AMOUNT), ("shares", SPLIT))),
    ("FollowUpVisitRecorded", struct(("award", STR), ("fund", STR), ("beneficiary", STR),
                                     ("outcome", VISIT))),
    ("BursaryAwarded", struct(("award", STR), ("fund", STR), ("student", STR),
                              ("academic_year", I32), ("tier", TIER), ("amount", AMOUNT),
                              ("years", U8), ("supplement_reason", opt(STR)))),
    ("BursaryInstalmentPaid", struct(("award", STR), ("fund", STR), ("student", STR),
                                     ("academic_year", I32), ("tier", TIER),
                                     ("amount", AMOUNT))),
    ("CampaignOpened", struct(("campaign", STR), ("fund", STR), ("name", STR))),
    ("CondolencePaid", struct(("campaign", STR), ("fund", STR), ("beneficiary", STR),
                              ("category", CATEGORY), ("form", FORM), ("amount", AMOUNT),
                              ("shares", SPLIT))),
    ("PremiumCollected", struct(("fund", STR), ("line", LINE), ("model", MODEL),
                                ("coverage_start", DATE), ("coverage_end", DATE),
                                ("households", U32), ("persons", U32),
                                ("tax_inclusive", AMOUNT), ("tax_exclusive", AMOUNT),
                                ("shares", SPLIT))),
    ("ClaimPaid", newtype(CLAIM)),
    ("ClaimsReserveEstimated", struct(("fund", STR), ("line", LINE), ("amount", AMOUNT))),
    ("PaymentRequested", struct(("fund", STR), ("reserved", SPLIT), ("expires_on", DATE),
                                ("payment", PAYMENT))),
    ("PaymentApproved", struct(("request", U64), ("fund", STR), ("reserved", SPLIT))),
    ("PaymentRejected", struct(("request", U64), ("fund", STR), ("reserved", SPLIT),
                               ("reason", STR))),
    ("PaymentRequestExpired", struct(("request", U64), ("fund", STR), ("reserved", SPLIT))),
    ("PeriodClosed", struct(("unit", STR), ("period", PERIOD))),
    ("EventReversed", struct(("position", U64), ("reason", STR), ("reversed", REVERSIBLE))),
    ("UserRegistered", struct(("user", STR), ("role", ROLE), ("scope", opt(STR)))),
    ("UserRoleChanged", struct(("user", STR), ("role", ROLE), ("scope", opt(STR)))),
    ("UserDisabled", struct(("user", STR), ("reason", STR))),
    ("TokenIssued", struct(("token", DIGEST), ("user", STR), ("expires_on", opt(DATE)))),
    ("TokenRevoked", struct(("token", DIGEST), ("user", STR), ("reason", STR))),
    ("PersonalDataAccessGranted", struct(("user", STR), ("reason", STR))),
    ("PersonalDataAccessWithdrawn", struct(("user", STR), ("reason", STR))),
    ("PersonalDataAccessed", struct(("beneficiary", STR), ("action", PERSONAL_DATA_ACTION),
                                    ("purpose", STR))),
    ("BeneficiaryRestricted", struct(("beneficiary", STR), ("reason", STR))),
    ("BeneficiaryRestrictionLifted", struct(("beneficiary", STR), ("reason", STR))),
    ("BeneficiaryErased", struct(("beneficiary", STR), ("reason", STR))),
)


def decode_value(reader, kind):
    """One value of `kind` from `reader` (a ledger_record.Reader), as the export's JSON."""
    if kind in (U8, U16, U32, U64, I32):
        return reader.read(kind)
    if kind == STR:
        return reader.read("string")
    if kind == BOOL:
        value = reader.read("u8")
        if value > 1:
            raise ledger_record.FormatError(f"a bool is {value}")
        return value == 1
    if kind == DIGEST:
        # A token's SHA-256 digest: 32 raw bytes, lowercase hex in JSON.
        return reader.take(32).hex()
    if kind == AMOUNT:
        fen = reader.read("i64")
        sign = "-" if fen < 0 else ""
        return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
    if kind == DATE:
        text = reader.read("string")
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            raise ledger_record.FormatError(f"{text!r} is not a date") from None
        return text
    tag, inner = kind
    if tag == "option":
        present = reader.read("u8")
        if present > 1:
            raise ledger_record.FormatError(f"an Option tag is {present}")
        return decode_value(reader, inner) if present else None
    if tag == "seq":
        return [decode_value(reader, inner) for _ in range(reader.read("u64"))]
    if tag == "struct":
        return {name: decode_value(reader, field) for name, field in inner}
    if tag == "newtype":
        return decode_value(reader, inner)
    if tag == "enum":
        index = reader.read("u32")
        if index >= len(inner):
            raise ledger_record.FormatError(f"enum variant {index} does not exist")
        name, body = inner[index]
        return name if body is None else {name: decode_value(reader, body)}
    raise ValueError(kind)


def decode_payload(payload):
    """§10: (digest, event); returns the event as the export's JSON."""
    reader = ledger_record.Reader(payload)
    if reader.read("u8") == 1:
        reader.take(32)
    event = decode_value(reader, EVENT)
    reader.finish()
    return event


def first_difference(ours, theirs, path="event.event"):
    """The path of the first value that differs, or None."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in list(ours) + [k for k in theirs if k not in ours]:
            if key not in ours or key not in theirs:
                return f"{path}.{key}"
            found = first_difference(ours[key], theirs[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return path
        for i, (a, b) in enumerate(zip(ours, theirs)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    same = ours == theirs and type(ours) is type(theirs)
    return None if same else path


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
    """The readable `event` must say what the record says, envelope and payload."""
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
    if record["schema_version"] != 1:
        raise Broken(position, line, f"schema version {record['schema_version']} of "
                                     f"{record['event_type']} is not 1, the one this script reads")
    try:
        decoded = decode_payload(record["payload"])
    except ledger_record.FormatError as e:
        raise Broken(position, line, f"the record's payload does not decode (§10): {e}") from None
    name = decoded if isinstance(decoded, str) else next(iter(decoded))
    if name != record["event_type"]:
        raise Broken(position, line, f"the payload holds {name} but the record says "
                                     f"{record['event_type']}")
    differs = first_difference(decoded, event.get("event"))
    if differs:
        raise Broken(position, line, f"{differs} is not what the record's payload says")


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
