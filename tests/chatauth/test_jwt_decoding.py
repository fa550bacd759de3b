"""`chatauth.jwt`'s decoding: the segment rule (alphabet, padding only at the end, no 4n+1 length, zero pad bits)
refuses exactly what a canonical re-encode round trip refuses, and decoded headers are cached safely.

The round trip below is the rule the decoder used to run on every segment; it stays here as the specification
the cheaper checks are compared against.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chatauth import jwt as chatjwt
from chatauth.jwt import (
    EXPIRED,
    INVALID,
    INVALID_SIGNATURE,
    ClaimPolicy,
    TokenVerificationError,
    b64url_decode,
    decode_unverified,
    verify_jwt,
)
from chatauth.keys import StaticJwksSource
from tests.support.keys import KeyPair, b64url, session_claims

_ROUND_TRIP_ALPHABET = re.compile(r"[A-Za-z0-9_=-]*")
URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def round_trip_decode(part: str) -> bytes:
    """The specification: decode, re-encode, and refuse whatever does not come back the same."""
    if not _ROUND_TRIP_ALPHABET.fullmatch(part):
        raise ValueError("not base64url")
    bare = part.rstrip("=")
    decoded = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != bare:
        raise ValueError("non-canonical base64url")
    return decoded


def verdict(decode, part: str) -> bytes | str:
    try:
        return decode(part)
    except (ValueError, binascii.Error):
        return "refused"


SEGMENTS = st.one_of(
    st.text(alphabet=URLSAFE, max_size=24),
    st.text(alphabet=URLSAFE + "=", max_size=24),
    st.text(alphabet=URLSAFE + "=+/ .\n\t\x00é٣🙂", max_size=24),
    st.builds(lambda raw, pad: b64url(raw) + "=" * pad, st.binary(max_size=40), st.integers(0, 3)),
)


@given(SEGMENTS)
@example("")  # an empty segment is the empty string (an empty signature then fails the signature check)
@example("Q")  # 4n+1 characters
@example("QQ")
@example("QR")  # 4 stray bits
@example("QUE")
@example("QUF")  # 2 stray bits
@example("QQ==")
@example("QQ=======")  # any run of trailing padding, as before
@example("QQ==QQ")  # padding inside
@example("=QQ")
@example("Q+Q/")  # the standard alphabet
@example("QQ QQ")
@example("٣٣٣٣")  # non-ASCII digits
def test_the_segment_rule_refuses_exactly_what_the_round_trip_refuses(part: str):
    assert verdict(b64url_decode, part) == verdict(round_trip_decode, part)


@pytest.mark.parametrize("length", range(0, 9))
def test_every_last_character_at_every_length_matches_the_round_trip(length: int):
    for last in URLSAFE:
        part = "A" * length + last
        assert verdict(b64url_decode, part) == verdict(round_trip_decode, part), part


@pytest.mark.parametrize(
    "part",
    [
        "eyJhbGciOiJSUzI1NiJ9",
        b64url(json.dumps({"alg": "RS256", "kid": "k", "typ": "JWT"}).encode()),
        b64url(bytes(range(256))),
    ],
)
def test_canonical_segments_decode_to_their_bytes(part: str):
    assert b64url_decode(part) == round_trip_decode(part)


def test_json_parts_read_as_json_loads_reads_bytes():
    """UTF-8, UTF-16 and UTF-32 (sniffed from the first bytes, BOM or not), as `json.loads` does with bytes."""
    document = {"alg": "RS256", "name": "é🙂"}
    for encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        raw = json.dumps(document, ensure_ascii=False).encode(encoding)
        assert chatjwt._json_object(b64url(raw)) == json.loads(raw) == document, encoding
    for raw in (b"[1, 2]", b'"x"', b"1", b"null"):
        assert chatjwt._json_object(b64url(raw)) == {}
    for raw in (b'{"exp": NaN}', b'{"exp": Infinity}', b"{", b"\xff{}", b"", b"\xef\xbb\xbf\xef\xbb\xbf{}"):
        with pytest.raises(ValueError):
            chatjwt._json_object(b64url(raw))


def _token(header: dict, payload: dict) -> str:
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(b"sig")])


def test_a_cached_header_is_a_fresh_copy_for_every_caller():
    token = _token({"alg": "RS256", "kid": "copy_test"}, {"sub": "u"})
    header, _, _ = decode_unverified(token, 8192)
    header["alg"] = "none"
    header["extra"] = True
    assert decode_unverified(token, 8192)[0] == {"alg": "RS256", "kid": "copy_test"}


def test_the_header_cache_is_bounded_and_forgets_nothing_it_needs():
    tokens = [_token({"alg": "RS256", "kid": f"k{i}"}, {"sub": "u"}) for i in range(chatjwt._MAX_HEADERS * 3)]
    for token in tokens + tokens:
        assert decode_unverified(token, 8192)[0]["kid"] == f"k{tokens.index(token)}"
    assert len(chatjwt._HEADERS) <= chatjwt._MAX_HEADERS


def test_a_malformed_header_is_refused_every_time_and_never_cached():
    bad = b64url(b"not json") + "." + b64url(b'{"sub": "u"}') + "." + b64url(b"sig")
    for _ in range(3):
        with pytest.raises(TokenVerificationError) as refused:
            decode_unverified(bad, 8192)
        assert refused.value.reason == INVALID
    assert bad.split(".")[0] not in chatjwt._HEADERS


def test_a_decoded_token_is_a_fresh_copy_for_every_caller():
    token = _token({"alg": "RS256", "kid": "payload_copy"}, {"sub": "user_a", "o": {"id": "org_a"}})
    _, payload, _ = decode_unverified(token, 8192)
    payload["sub"] = "user_b"
    payload["extra"] = True
    assert decode_unverified(token, 8192)[1] == {"sub": "user_a", "o": {"id": "org_a"}}


def test_the_decoded_token_cache_is_bounded():
    tokens = [_token({"alg": "RS256"}, {"sub": f"user_{i}"}) for i in range(chatjwt._MAX_DECODED * 2 + 1)]
    for token in tokens:
        assert decode_unverified(token, 8192)[1]["sub"] == f"user_{tokens.index(token)}"
    assert len(chatjwt._DECODED) <= chatjwt._MAX_DECODED


def test_a_token_larger_than_a_session_token_is_decoded_but_not_kept():
    token = _token({"alg": "RS256"}, {"sub": "user_large", "pad": "x" * chatjwt._MAX_DECODED_BYTES})
    assert decode_unverified(token, 8 * chatjwt._MAX_DECODED_BYTES)[1]["sub"] == "user_large"
    assert token not in chatjwt._DECODED


def test_a_token_decoded_before_is_still_checked_in_full_each_time():
    """Only the decoding is reused: the signature and the claims are checked on every verification."""
    key = KeyPair(kid="again")
    token = key.sign(session_claims(issuer="https://clerk.example.test"))
    source = StaticJwksSource({"again": key.private_key.public_key()})
    policy = ClaimPolicy(issuer="https://clerk.example.test")
    assert verify_jwt(token, source, policy)["sub"] == "user_123"
    with pytest.raises(TokenVerificationError) as expired:
        verify_jwt(token, source, policy, now=time.time() + 3600)
    assert expired.value.reason == EXPIRED
    with pytest.raises(TokenVerificationError) as other_key:
        verify_jwt(token, StaticJwksSource({"again": KeyPair(kid="again").private_key.public_key()}), policy)
    assert other_key.value.reason == INVALID_SIGNATURE
