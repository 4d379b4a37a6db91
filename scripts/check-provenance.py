#!/usr/bin/env python3
"""Check a provenance file with the in-toto project's own code, not relpub's.

    check-provenance.py FILE [--public-key PEM] [--quiet]

FILE is what `relpub prepare` writes (`<name>.intoto.jsonl`): one JSON value a
line, each a DSSE envelope (payload type application/vnd.in-toto+json) or a
plain in-toto Statement. Every line must pass:

- DSSE: securesystemslib.dsse.Envelope (the in-toto project's DSSE code) parses
  the envelope; with --public-key, Envelope.verify checks the signature over the
  DSSE pre-authentication encoding with that key (Ed25519, ECDSA P-256 or
  RSA-PSS-SHA256, PEM).
- Statement: the in-toto Attestation Framework's official Python bindings
  (PyPI in-toto-attestation) parse it into their Statement v1 protobuf message
  with json_format and ignore_unknown_fields=False (an unknown field, a wrong
  type or a duplicate key fails), and Statement.validate() runs.
- Predicate: predicateType must be https://slsa.dev/provenance/v1; the
  predicate is parsed the same way into the bindings' SLSA provenance v1
  message (in_toto_attestation.predicates.provenance.v1), which also checks
  that startedOn and finishedOn are RFC 3339 timestamps.

The Python bindings 0.9.3 validate the Statement and ResourceDescriptor only;
their Go bindings also validate DigestSets and the provenance v1 predicate.
Those Go rules (github.com/in-toto/attestation, go/v1/resource_descriptor.go and
go/predicates/provenance/v1/provenance.go) are applied here as written there,
plus the key spelling that protobuf's JSON parser does not enforce: every key
must be the field's JSON name (`buildType`, not `build_type`).

Exit 0 when every line passes, 1 with one message a problem on stderr, 2 on a
usage error or when the bindings are not installed (scripts/servers/install.sh).
"""

from __future__ import annotations

import argparse
import binascii
import json
import sys
from typing import Any

try:
    from google.protobuf import json_format
    from google.protobuf.descriptor import Descriptor
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import STATEMENT_TYPE_URI, Statement
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey
except ImportError as e:  # pragma: no cover - depends on the machine
    print(
        f"check-provenance: {e}; install the pins of scripts/servers/requirements.txt "
        "(bash scripts/servers/install.sh) and run with .venv-servers/bin/python",
        file=sys.stderr,
    )
    sys.exit(2)

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"

# Go bindings, go/v1/resource_descriptor.go: the fixed-size algorithms whose
# DigestSet values must be hex of exactly this many bytes (gitCommit and
# dirHash count as sha1 and sha256). Others are allowed unchecked.
DIGEST_SIZES = {
    "md5": 16, "sha1": 20, "sha224": 28, "sha512_224": 28, "sha256": 32,
    "sha512_256": 32, "sha384": 48, "sha512": 64, "sha3_224": 28, "sha3_256": 32,
    "sha3_384": 48, "sha3_512": 64, "gitCommit": 20, "dirHash": 32,
}
# Messages the JSON mapping writes as plain JSON: not walked for key names.
WELL_KNOWN = {
    "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
    "google.protobuf.Timestamp",
}


class Invalid(Exception):
    """One problem with the provenance; its text says where."""


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Invalid(f"duplicate key {key!r}")
        out[key] = value
    return out


def json_names(descriptor: Descriptor, value: Any, where: str) -> None:
    """Every key is a field's JSON name; protobuf also accepts the proto name."""
    if not isinstance(value, dict) or descriptor.full_name in WELL_KNOWN:
        return
    by_json = {f.json_name: f for f in descriptor.fields}
    by_proto = {f.name: f for f in descriptor.fields}
    for key, item in value.items():
        field = by_json.get(key)
        if field is None:
            if key in by_proto:
                raise Invalid(
                    f"{where}: key {key!r} is the protobuf field name; "
                    f"the JSON name is {by_proto[key].json_name!r}"
                )
            continue  # json_format reports unknown fields
        message = field.message_type
        if message is None:
            continue
        if message.GetOptions().map_entry:
            value_field = message.fields_by_name["value"]
            if value_field.message_type is not None and isinstance(item, dict):
                for k, v in item.items():
                    json_names(value_field.message_type, v, f"{where}.{key}[{k!r}]")
        elif isinstance(item, list):  # a repeated field; a wrong type is json_format's to report
            for i, element in enumerate(item):
                json_names(message, element, f"{where}.{key}[{i}]")
        else:
            json_names(message, item, f"{where}.{key}")


def parse(message_type: Any, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise Invalid(f"{where}: not a JSON object")
    json_names(message_type.DESCRIPTOR, value, where)
    try:
        return json_format.ParseDict(value, message_type(), ignore_unknown_fields=False)
    except json_format.ParseError as e:
        raise Invalid(f"{where}: {e}") from None


def check_resource(rd: Any, where: str) -> None:
    try:
        ResourceDescriptor.copy_from_pb(rd).validate()
    except ValueError as e:
        raise Invalid(f"{where}: {e}") from None
    for alg, digest in rd.digest.items():
        size = DIGEST_SIZES.get(alg)
        if size is None:
            continue
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            raise Invalid(f"{where}.digest.{alg}: {digest!r} is not hex") from None
        if len(raw) != size:
            raise Invalid(f"{where}.digest.{alg}: {len(raw)} bytes, {alg} has {size}")


def check_statement(payload: bytes, where: str) -> tuple[int, str]:
    try:
        value = json.loads(payload.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Invalid(f"{where}: not JSON ({e})") from None
    pb = parse(statement_pb2.Statement, value, f"{where} statement")
    try:
        Statement.copy_from_pb(pb).validate()
    except ValueError as e:
        raise Invalid(f"{where} statement: {e} (expected _type {STATEMENT_TYPE_URI})") from None
    for i, subject in enumerate(pb.subject):
        check_resource(subject, f"{where} statement.subject[{i}]")
    if pb.predicate_type != SLSA_PROVENANCE_V1:
        raise Invalid(
            f"{where} statement: predicateType {pb.predicate_type!r} is not {SLSA_PROVENANCE_V1}"
        )
    predicate = parse(provenance_pb2.Provenance, value.get("predicate"), f"{where} predicate")
    check_provenance(predicate, f"{where} predicate")
    return len(pb.subject), predicate.run_details.builder.id


def check_provenance(p: Any, where: str) -> None:
    """The Go bindings' Provenance.Validate (SLSA Build L1 required fields)."""
    if not p.HasField("build_definition"):
        raise Invalid(f"{where}: buildDefinition required")
    bd = p.build_definition
    if bd.build_type == "":
        raise Invalid(f"{where}: buildDefinition.buildType required")
    if not bd.HasField("external_parameters"):
        raise Invalid(f"{where}: buildDefinition.externalParameters required")
    for i, rd in enumerate(bd.resolved_dependencies):
        check_resource(rd, f"{where}.buildDefinition.resolvedDependencies[{i}]")
    if not p.HasField("run_details"):
        raise Invalid(f"{where}: runDetails required")
    rd_ = p.run_details
    if not rd_.HasField("builder"):
        raise Invalid(f"{where}: runDetails.builder required")
    if rd_.builder.id == "":
        raise Invalid(f"{where}: runDetails.builder.id required")
    for i, dep in enumerate(rd_.builder.builder_dependencies):
        check_resource(dep, f"{where}.runDetails.builder.builderDependencies[{i}]")
    for i, bp in enumerate(rd_.byproducts):
        check_resource(bp, f"{where}.runDetails.byproducts[{i}]")


def load_key(path: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    with open(path, "rb") as f:
        return load_pem_public_key(f.read())


def check_envelope(value: dict[str, Any], public_key: Any, where: str) -> tuple[bytes, str]:
    if value.get("payloadType") != IN_TOTO_PAYLOAD_TYPE:
        raise Invalid(f"{where}: payloadType {value.get('payloadType')!r} is not {IN_TOTO_PAYLOAD_TYPE}")
    try:
        envelope = Envelope.from_dict(json.loads(json.dumps(value)))
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        raise Invalid(f"{where}: not a DSSE envelope ({type(e).__name__}: {e})") from None
    if not envelope.signatures:
        raise Invalid(f"{where}: the DSSE envelope has no signature")
    if public_key is None:
        return envelope.payload, "DSSE envelope, signature not checked (no --public-key)"
    keyids = list(envelope.signatures)
    for keyid in keyids:
        # relpub's key ids are its own (16 hex digits): bind this key to the signature's.
        key = SSlibKey.from_crypto(public_key, keyid=keyid)
        try:
            envelope.verify([key], 1)
            return envelope.payload, f"DSSE signature by {keyid} verified"
        except VerificationError:
            continue
    raise Invalid(f"{where}: no DSSE signature ({', '.join(keyids)}) verifies with the public key")


def check_file(path: str, public_key: Any) -> list[str]:
    with open(path, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l.strip()]
    if not lines:
        raise Invalid(f"{path}: empty")
    report = []
    for n, line in enumerate(lines, 1):
        where = f"{path}:{n}"
        try:
            value = json.loads(line.decode("utf-8"), object_pairs_hook=no_duplicates)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise Invalid(f"{where}: not JSON ({e})") from None
        if isinstance(value, dict) and "payload" in value:
            payload, how = check_envelope(value, public_key, where)
        else:
            payload, how = line, "plain statement, unsigned"
        subjects, builder = check_statement(payload, where)
        report.append(
            f"{where}: ok: in-toto Statement v1 with SLSA provenance v1, "
            f"{subjects} subject(s), builder {builder}; {how}"
        )
    return report


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", help="provenance: .intoto.jsonl (DSSE envelopes or statements)")
    ap.add_argument("--public-key", help="PEM public key that must verify each DSSE envelope")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    try:
        key = None if args.public_key is None else load_key(args.public_key)
        if key is not None:
            SSlibKey.from_crypto(key)  # a key type securesystemslib can check
    except (OSError, ValueError, TypeError) as e:
        print(f"check-provenance: --public-key {args.public_key}: {e}", file=sys.stderr)
        return 2
    try:
        report = check_file(args.file, key)
    except OSError as e:
        print(f"check-provenance: {e}", file=sys.stderr)
        return 2
    except Invalid as e:
        print(f"check-provenance: INVALID: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
