"""OCPP-J 1.6 connection security: URL rule, subprotocols, AuthorizationKey, Basic auth, 404/401."""

from __future__ import annotations

import asyncio
import base64
import http
import json
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from ocpp_e2e.errors import ConnectionSetupError
from ocpp_e2e.integrations.connection import (
    AuthorizationKeyStore,
    ScryptParameters,
    admit,
    authorization_key_hex,
    basic_auth_header,
    choose_subprotocol,
    client_subprotocols,
    connection_url,
    generate_authorization_key,
    identity_from_path,
    negotiated_ocpp,
    ocpp_version,
    parse_authorization_key,
    parse_basic_auth,
    request_guard,
    subprotocol_for,
    subprotocol_selector,
)

FAST = ScryptParameters(n=2**10)
TIMEOUT = 5
SPEC_KEY = bytes.fromhex("0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF")


# --------------------------------------------------------------------------- connection URL


def test_connection_url_appends_slash_and_identity() -> None:
    assert connection_url("ws://centralsystem.example.com/ocpp", "CP001") == (
        "ws://centralsystem.example.com/ocpp/CP001"
    )


def test_connection_url_percent_encodes_the_identity() -> None:
    assert connection_url("wss://centralsystem.example.com/ocppj", "RDAM 123") == (
        "wss://centralsystem.example.com/ocppj/RDAM%20123"
    )


def test_connection_url_encodes_reserved_characters_so_the_identity_stays_one_segment() -> None:
    assert connection_url("ws://h/ocpp", "a?b#c%d") == "ws://h/ocpp/a%3Fb%23c%25d"


def test_connection_url_does_not_double_a_trailing_slash() -> None:
    assert connection_url("ws://h:9000/ocpp/", "CP1") == "ws://h:9000/ocpp/CP1"


def test_connection_url_refuses_a_non_websocket_scheme() -> None:
    with pytest.raises(ConnectionSetupError, match="scheme ws or wss"):
        connection_url("https://h/ocpp", "CP1")


def test_connection_url_refuses_an_endpoint_with_a_query() -> None:
    with pytest.raises(ConnectionSetupError, match="query"):
        connection_url("ws://h/ocpp?x=1", "CP1")


def test_connection_url_refuses_an_identity_with_a_slash() -> None:
    with pytest.raises(ConnectionSetupError, match="contains '/'"):
        connection_url("ws://h/ocpp", "a/b")


def test_connection_url_refuses_an_empty_identity() -> None:
    with pytest.raises(ConnectionSetupError, match="empty"):
        connection_url("ws://h/ocpp", "")


def test_identity_from_path_percent_decodes() -> None:
    assert identity_from_path("/ocppj/RDAM%20123", "/ocppj") == "RDAM 123"


def test_identity_from_path_inverts_connection_url_for_unicode_identities() -> None:
    url = connection_url("ws://h/ocpp", "Zürich 7")
    assert identity_from_path(url[len("ws://h") :], "/ocpp") == "Zürich 7"


def test_identity_from_path_ignores_the_query() -> None:
    assert identity_from_path("/ocpp/CP1?x=1", "/ocpp") == "CP1"


def test_identity_from_path_refuses_another_prefix() -> None:
    with pytest.raises(ConnectionSetupError, match="not below the OCPP-J endpoint"):
        identity_from_path("/other/CP1", "/ocpp")


def test_identity_from_path_refuses_more_segments() -> None:
    with pytest.raises(ConnectionSetupError, match="one path segment"):
        identity_from_path("/ocpp/a/b", "/ocpp")


def test_identity_from_path_refuses_an_encoded_slash() -> None:
    with pytest.raises(ConnectionSetupError, match="contains '/'"):
        identity_from_path("/ocpp/a%2Fb", "/ocpp")


def test_identity_from_path_refuses_invalid_utf8() -> None:
    with pytest.raises(ConnectionSetupError, match="not UTF-8"):
        identity_from_path("/ocpp/%FF", "/ocpp")


def test_identity_from_path_refuses_a_missing_identity() -> None:
    with pytest.raises(ConnectionSetupError, match="names no charge point identity"):
        identity_from_path("/ocpp/", "/ocpp")


def test_identity_from_path_refuses_control_characters() -> None:
    with pytest.raises(ConnectionSetupError, match="control characters"):
        identity_from_path("/ocpp/a%0Ab", "/ocpp")


# --------------------------------------------------------------------------- subprotocols


def test_subprotocol_names_of_the_three_versions() -> None:
    assert [subprotocol_for(v) for v in ("1.6", "2.0.1", "2.1")] == [
        "ocpp1.6",
        "ocpp2.0.1",
        "ocpp2.1",
    ]


def test_subprotocol_for_an_unknown_version_is_refused() -> None:
    with pytest.raises(ConnectionSetupError, match=r"unknown OCPP version '1\.5'"):
        subprotocol_for("1.5")


def test_ocpp_version_of_a_subprotocol() -> None:
    assert ocpp_version("ocpp2.1") == "2.1"


def test_ocpp_version_refuses_a_missing_subprotocol() -> None:
    with pytest.raises(ConnectionSetupError, match="no OCPP subprotocol was negotiated"):
        ocpp_version(None)


def test_ocpp_version_refuses_an_unknown_subprotocol() -> None:
    with pytest.raises(ConnectionSetupError, match=r"'ocpp1\.5' is not an OCPP version"):
        ocpp_version("ocpp1.5")


def test_choose_subprotocol_follows_the_clients_preference() -> None:
    assert choose_subprotocol(["ocpp1.6", "ocpp2.0.1"], ["ocpp2.0.1", "ocpp1.6"]) == "ocpp1.6"


def test_choose_subprotocol_without_a_common_one_is_none() -> None:
    assert choose_subprotocol(["ocpp1.5"], ["ocpp1.6", "ocpp2.0.1"]) is None


def test_subprotocol_selector_refuses_a_non_ocpp_name_at_configuration() -> None:
    with pytest.raises(ConnectionSetupError, match="'chat' is not an OCPP version"):
        subprotocol_selector(["chat"])


# --------------------------------------------------------------------------- AuthorizationKey


def test_generated_authorization_key_has_20_bytes() -> None:
    assert len(generate_authorization_key()) == 20


def test_generated_authorization_keys_differ() -> None:
    assert generate_authorization_key() != generate_authorization_key()


def test_authorization_key_hex_is_40_hex_characters() -> None:
    text = authorization_key_hex(SPEC_KEY)
    assert text == "0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF"


def test_parse_authorization_key_accepts_lower_case() -> None:
    assert parse_authorization_key("0001020304050607ffffffffffffffffffffffff") == SPEC_KEY


def test_parse_authorization_key_accepts_16_bytes_per_the_security_whitepaper() -> None:
    assert len(parse_authorization_key("00" * 16)) == 16


def test_parse_authorization_key_refuses_an_odd_length() -> None:
    with pytest.raises(ConnectionSetupError, match="even number of hexadecimal characters"):
        parse_authorization_key("0" * 39)


def test_parse_authorization_key_refuses_non_hex() -> None:
    with pytest.raises(ConnectionSetupError, match="hexadecimal"):
        parse_authorization_key("zz" * 20)


def test_parse_authorization_key_refuses_15_bytes() -> None:
    with pytest.raises(ConnectionSetupError, match="16 to 20 bytes, this one has 15"):
        parse_authorization_key("00" * 15)


def test_parse_authorization_key_refuses_21_bytes() -> None:
    with pytest.raises(ConnectionSetupError, match="16 to 20 bytes, this one has 21"):
        parse_authorization_key("00" * 21)


# --------------------------------------------------------------------------- HTTP Basic


def test_basic_auth_header_matches_the_ocpp_j_16_example() -> None:
    assert basic_auth_header("AL1000", SPEC_KEY) == "Basic QUwxMDAwOgABAgMEBQYH////////////////"


def test_basic_auth_password_is_the_raw_key_not_its_hex() -> None:
    raw = base64.b64decode(basic_auth_header("AL1000", SPEC_KEY)[6:])
    assert raw == b"AL1000:" + SPEC_KEY


def test_parse_basic_auth_reads_the_ocpp_j_16_example() -> None:
    creds = parse_basic_auth("Basic QUwxMDAwOgABAgMEBQYH////////////////")
    assert (creds.identity, creds.password) == ("AL1000", SPEC_KEY)


def test_parse_basic_auth_keeps_colons_inside_the_binary_password() -> None:
    key = b"::" + bytes(range(18))
    assert parse_basic_auth(basic_auth_header("CP1", key)).password == key


def test_parse_basic_auth_scheme_is_case_insensitive() -> None:
    assert parse_basic_auth("basic " + basic_auth_header("CP1", SPEC_KEY)[6:]).identity == "CP1"


def test_parse_basic_auth_refuses_another_scheme() -> None:
    with pytest.raises(ConnectionSetupError, match="expected the Basic scheme, got 'Bearer'"):
        parse_basic_auth("Bearer abc")


def test_parse_basic_auth_refuses_non_base64() -> None:
    with pytest.raises(ConnectionSetupError, match="not base64"):
        parse_basic_auth("Basic ***")


def test_parse_basic_auth_refuses_unpadded_base64() -> None:
    with pytest.raises(ConnectionSetupError, match="not base64"):
        parse_basic_auth("Basic " + base64.b64encode(b"CP1:abcd").decode().rstrip("="))


def test_parse_basic_auth_refuses_a_token_without_colon() -> None:
    with pytest.raises(ConnectionSetupError, match="no ':' separator"):
        parse_basic_auth("Basic " + base64.b64encode(b"CP1").decode())


def test_parse_basic_auth_refuses_a_non_utf8_user() -> None:
    with pytest.raises(ConnectionSetupError, match="user-id is not UTF-8"):
        parse_basic_auth("Basic " + base64.b64encode(b"\xff:key").decode())


def test_parse_basic_auth_refuses_an_empty_user() -> None:
    with pytest.raises(ConnectionSetupError, match=r"user-id .* is empty"):
        parse_basic_auth("Basic " + base64.b64encode(b":key").decode())


def test_basic_auth_header_refuses_an_identity_with_a_colon() -> None:
    with pytest.raises(ConnectionSetupError, match="HTTP Basic cannot carry"):
        basic_auth_header("CP:1", SPEC_KEY)


def test_basic_credentials_repr_hides_the_password() -> None:
    text = repr(parse_basic_auth(basic_auth_header("CP1", SPEC_KEY)))
    assert "20 bytes" in text and SPEC_KEY.hex() not in text and "\\x" not in text


# --------------------------------------------------------------------------- key store


def test_key_store_accepts_the_current_key() -> None:
    store = AuthorizationKeyStore(FAST)
    store.set("CP1", SPEC_KEY)
    assert store.check("CP1", SPEC_KEY)


def test_key_store_refuses_a_wrong_key() -> None:
    store = AuthorizationKeyStore(FAST)
    store.set("CP1", SPEC_KEY)
    assert not store.check("CP1", bytes(20))


def test_key_store_refuses_the_old_key_after_a_new_one_is_set() -> None:
    store = AuthorizationKeyStore(FAST)
    store.set("CP1", SPEC_KEY)
    new = generate_authorization_key()
    store.set("CP1", new)
    assert (store.check("CP1", SPEC_KEY), store.check("CP1", new)) == (False, True)


def test_key_store_refuses_an_unknown_identity() -> None:
    assert not AuthorizationKeyStore(FAST).check("CP9", SPEC_KEY)


def test_key_store_identities_are_ascii_case_insensitive_like_spec_context() -> None:
    store = AuthorizationKeyStore(FAST)
    store.set("CP-Alpha", SPEC_KEY)
    assert store.check("cp-alpha", SPEC_KEY) and "CP-ALPHA" in store


def test_key_store_removed_identity_is_unknown() -> None:
    store = AuthorizationKeyStore(FAST)
    store.set("CP1", SPEC_KEY)
    store.remove("CP1")
    assert "CP1" not in store and not store.check("CP1", SPEC_KEY)


def test_key_store_salts_every_entry() -> None:
    store = AuthorizationKeyStore(FAST)
    store.set("CP1", SPEC_KEY)
    store.set("CP2", SPEC_KEY)
    doc = json.loads(store.to_json())["keys"]
    assert doc["cp1"]["salt"] != doc["cp2"]["salt"] and doc["cp1"]["hash"] != doc["cp2"]["hash"]


def test_key_store_file_holds_no_key_material(tmp_path: Path) -> None:
    store = AuthorizationKeyStore(FAST)
    store.set("CP1", SPEC_KEY)
    store.save(tmp_path / "keys.json")
    text = (tmp_path / "keys.json").read_text()
    assert SPEC_KEY.hex() not in text.lower() and "scrypt" in text


def test_key_store_file_is_owner_only(tmp_path: Path) -> None:
    AuthorizationKeyStore(FAST).save(tmp_path / "keys.json")
    assert stat.S_IMODE(os.stat(tmp_path / "keys.json").st_mode) == 0o600


def test_key_store_round_trips_through_its_file(tmp_path: Path) -> None:
    store = AuthorizationKeyStore(FAST)
    store.set("CP1", SPEC_KEY)
    store.save(tmp_path / "keys.json")
    loaded = AuthorizationKeyStore.load(tmp_path / "keys.json")
    assert loaded.check("CP1", SPEC_KEY) and not loaded.check("CP1", bytes(20))


def test_key_store_load_names_the_file_and_entry_of_a_bad_hash(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"version": 1, "keys": {"cp1": {"algorithm": "md5"}}}))
    with pytest.raises(ConnectionSetupError, match=r"keys.json: \$\.keys\.cp1: expected exactly"):
        AuthorizationKeyStore.load(path)


def test_key_store_load_refuses_an_unknown_algorithm(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    entry = {"algorithm": "md5", "n": 1, "r": 1, "p": 1, "salt": "AA", "hash": "AA"}
    path.write_text(json.dumps({"version": 1, "keys": {"cp1": entry}}))
    with pytest.raises(ConnectionSetupError, match="unknown algorithm 'md5'; expected scrypt"):
        AuthorizationKeyStore.load(path)


def test_key_store_load_refuses_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("[]")
    with pytest.raises(ConnectionSetupError, match=r'keys.json: \$: expected \{"version": 1'):
        AuthorizationKeyStore.load(path)


def test_default_scrypt_parameters_are_the_interactive_setting() -> None:
    params = ScryptParameters()
    assert (params.n, params.r, params.p, params.length) == (2**14, 8, 1, 32)


def test_default_scrypt_parameters_check_a_key() -> None:
    store = AuthorizationKeyStore()
    store.set("CP1", SPEC_KEY)
    assert store.check("CP1", SPEC_KEY)


# --------------------------------------------------------------------------- admission


def _store() -> AuthorizationKeyStore:
    store = AuthorizationKeyStore(FAST)
    store.set("RDAM 123", SPEC_KEY)
    return store


def _admit(path: str, authorization: str | None, keys: AuthorizationKeyStore | None = None) -> Any:
    store = keys if keys is not None else _store()
    return admit(path, authorization, prefix="/ocpp", is_known=store.__contains__, keys=keys)


def test_admit_accepts_the_right_key() -> None:
    store = _store()
    result = _admit("/ocpp/RDAM%20123", basic_auth_header("RDAM 123", SPEC_KEY), store)
    assert (result.status, result.identity) == (101, "RDAM 123")


def test_admit_answers_404_for_an_unknown_identity() -> None:
    result = _admit("/ocpp/CP9", basic_auth_header("CP9", SPEC_KEY), _store())
    assert (result.status, result.reason) == (404, "unknown charge point identity 'CP9'")


def test_admit_answers_404_for_a_path_outside_the_endpoint() -> None:
    assert _admit("/admin", None, _store()).status == 404


def test_admit_answers_401_without_credentials() -> None:
    result = _admit("/ocpp/RDAM%20123", None, _store())
    assert (result.status, result.reason) == (401, "no Authorization header")


def test_admit_answers_401_for_a_wrong_key() -> None:
    result = _admit("/ocpp/RDAM%20123", basic_auth_header("RDAM 123", bytes(20)), _store())
    assert (result.status, result.reason) == (401, "wrong authorization key")


def test_admit_answers_401_when_the_user_is_not_the_url_identity() -> None:
    store = _store()
    store.set("CP2", SPEC_KEY)
    result = _admit("/ocpp/RDAM%20123", basic_auth_header("CP2", SPEC_KEY), store)
    assert result.status == 401 and "is not the identity of the URL" in result.reason


def test_admit_answers_401_for_an_unreadable_header() -> None:
    result = _admit("/ocpp/RDAM%20123", "Digest x", _store())
    assert result.status == 401 and "expected the Basic scheme" in result.reason


def test_admit_without_a_key_store_lets_known_identities_in() -> None:
    result = admit("/ocpp/CP1", None, prefix="/ocpp", is_known=lambda i: i == "CP1", keys=None)
    assert result.status == 101


# --------------------------------------------------------------------------- over WebSockets


async def _echo(connection: ServerConnection) -> None:
    if negotiated_ocpp(connection) is None:
        await connection.close(1002, "no common OCPP subprotocol")
        return
    async for message in connection:
        await connection.send(message)


def _run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(TIMEOUT):
            await coro_fn()

    asyncio.run(bounded())


async def _server(store: AuthorizationKeyStore, seen: list[Any]) -> Any:
    return await serve(
        _echo,
        "127.0.0.1",
        0,
        process_request=request_guard(
            prefix="/ocpp", is_known=store.__contains__, keys=store, on_admission=seen.append
        ),
        select_subprotocol=subprotocol_selector(["ocpp2.0.1", "ocpp1.6"]),
    )


def _url(server: Any, identity: str) -> str:
    port = server.sockets[0].getsockname()[1]
    return connection_url(f"ws://127.0.0.1:{port}/ocpp", identity)


def test_websocket_unknown_identity_gets_404_before_the_upgrade() -> None:
    async def scenario() -> None:
        seen: list[Any] = []
        async with await _server(_store(), seen) as server:
            with pytest.raises(InvalidStatus) as info:
                async with connect(_url(server, "CP9"), subprotocols=client_subprotocols("1.6")):
                    pass
            assert info.value.response.status_code == http.HTTPStatus.NOT_FOUND
            assert seen[0].status == 404

    _run(scenario)


def test_websocket_wrong_key_gets_401_with_a_basic_challenge() -> None:
    async def scenario() -> None:
        async with await _server(_store(), []) as server:
            headers = {"Authorization": basic_auth_header("RDAM 123", bytes(20))}
            with pytest.raises(InvalidStatus) as info:
                async with connect(
                    _url(server, "RDAM 123"),
                    subprotocols=client_subprotocols("1.6"),
                    additional_headers=headers,
                ):
                    pass
            response = info.value.response
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"].startswith("Basic ")

    _run(scenario)


def test_websocket_right_key_connects_with_the_negotiated_subprotocol() -> None:
    async def scenario() -> None:
        async with await _server(_store(), []) as server:
            headers = {"Authorization": basic_auth_header("RDAM 123", SPEC_KEY)}
            async with connect(
                _url(server, "RDAM 123"),
                subprotocols=client_subprotocols("1.6", "2.0.1"),
                additional_headers=headers,
            ) as ws:
                assert ws.subprotocol == "ocpp1.6"
                await ws.send('[2,"1","Heartbeat",{}]')
                assert await ws.recv() == '[2,"1","Heartbeat",{}]'

    _run(scenario)


def test_websocket_without_a_common_subprotocol_completes_the_handshake_then_closes() -> None:
    async def scenario() -> None:
        async with await _server(_store(), []) as server:
            headers = {"Authorization": basic_auth_header("RDAM 123", SPEC_KEY)}
            async with connect(
                _url(server, "RDAM 123"),
                subprotocols=[Subprotocol("ocpp1.5")],
                additional_headers=headers,
            ) as ws:
                assert ws.subprotocol is None
                with pytest.raises(ConnectionClosed) as info:
                    await ws.recv()
                assert info.value.rcvd is not None and info.value.rcvd.code == 1002

    _run(scenario)
