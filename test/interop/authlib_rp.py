# Authlib (Debian python3-authlib) as a relying party of the broker: discovery, PKCE S256, code exchange, ID token validation.
# Reads one JSON request on stdin, writes one JSON answer on stdout; exits 1 with {"error": ...} when a check fails.
# Modes: "authorize" (discovery + authorization URL), "exchange" (callback -> tokens -> validated ID token -> userinfo),
# "validate" (validate a given ID token against the JWKS, nonce and audience).
import base64
import json
import sys
import time
import urllib.parse
import urllib.request

from authlib.common.security import generate_token
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response, prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken


def http_json(url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    request.add_header("Accept", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read().decode("utf-8"))


def discover(issuer):
    metadata = http_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if metadata.get("issuer") != issuer:
        raise ValueError("discovery issuer mismatch: %r" % metadata.get("issuer"))
    if "S256" not in metadata.get("code_challenge_methods_supported", []):
        raise ValueError("the OP does not advertise PKCE S256")
    return metadata


def validate_id_token(metadata, client_id, id_token, nonce, access_token=None):
    jwks = JsonWebKey.import_key_set(http_json(metadata["jwks_uri"]))
    claims = jwt.decode(
        id_token,
        key=jwks,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
        },
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate(now=int(time.time()), leeway=30)
    if claims.header.get("alg") not in metadata.get("id_token_signing_alg_values_supported", []):
        raise ValueError("ID token alg %r not advertised" % claims.header.get("alg"))
    return dict(claims), dict(claims.header)


def authorize(req):
    metadata = discover(req["issuer"])
    state = generate_token(32)
    nonce = generate_token(32)
    code_verifier = generate_token(64)
    extra = dict(req.get("params", {}))
    url = prepare_grant_uri(
        metadata["authorization_endpoint"],
        client_id=req["client_id"],
        response_type="code",
        redirect_uri=req["redirect_uri"],
        scope=req.get("scope", "openid profile email"),
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(code_verifier),
        code_challenge_method="S256",
        **extra,
    )
    return {"authorization_url": url, "state": state, "nonce": nonce, "code_verifier": code_verifier}


def exchange(req):
    metadata = discover(req["issuer"])
    params = parse_authorization_code_response(req["callback_url"], state=req["state"])
    # RFC 9207: the OP advertises the iss parameter, so it must be present and name this issuer.
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(req["callback_url"]).query))
    if metadata.get("authorization_response_iss_parameter_supported") and query.get("iss") != metadata["issuer"]:
        raise ValueError("authorization response iss mismatch: %r" % query.get("iss"))
    body = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": req["redirect_uri"],
            "code_verifier": req["code_verifier"],
        }
    ).encode("ascii")
    basic = base64.b64encode(
        (urllib.parse.quote(req["client_id"], safe="") + ":" + urllib.parse.quote(req["client_secret"], safe="")).encode("utf-8")
    ).decode("ascii")
    token = http_json(
        metadata["token_endpoint"],
        data=body,
        headers={"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"},
    )
    if token.get("token_type", "").lower() != "bearer":
        raise ValueError("unexpected token_type %r" % token.get("token_type"))
    claims, header = validate_id_token(metadata, req["client_id"], token["id_token"], req["nonce"], token["access_token"])
    userinfo = http_json(metadata["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]})
    if userinfo.get("sub") != claims["sub"]:
        raise ValueError("userinfo sub does not match the ID token")
    return {"claims": claims, "header": header, "userinfo": userinfo, "id_token": token["id_token"], "scope": token.get("scope")}


def validate(req):
    metadata = discover(req["issuer"])
    claims, header = validate_id_token(metadata, req["client_id"], req["id_token"], req["nonce"])
    return {"claims": claims, "header": header}


def main():
    req = json.load(sys.stdin)
    modes = {"authorize": authorize, "exchange": exchange, "validate": validate}
    try:
        out = modes[req["mode"]](req)
    except Exception as error:  # every failure is reported as JSON with its class name
        json.dump({"error": type(error).__name__, "message": str(error)}, sys.stdout)
        sys.exit(1)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
