# Interop IdP: Debian's pysaml2 (xmlsec1, RSA-SHA256) issues a signed login Response for the broker's SP metadata.
# Input (stdin, JSON): entityId, keyFile, certFile, spMetadata, requestId, acsUrl, spEntityId, nameId, email.
# Output (stdout): the base64 SAMLResponse for the HTTP-POST binding.
import base64
import json
import sys

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

args = json.load(sys.stdin)
config = IdPConfig().load({
    "entityid": args["entityId"],
    "service": {
        "idp": {
            "endpoints": {"single_sign_on_service": [(args["entityId"] + "/sso", BINDING_HTTP_REDIRECT)]},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None, "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}},
        }
    },
    "key_file": args["keyFile"],
    "cert_file": args["certFile"],
    "metadata": {"inline": [args["spMetadata"]]},
    "xmlsec_binary": "/usr/bin/xmlsec1",
})
server = Server(config=config)
response = server.create_authn_response(
    identity={"mail": [args["email"]], "displayName": ["Py Saml"], "eduPersonAffiliation": ["staff"]},
    in_response_to=args["requestId"],
    destination=args["acsUrl"],
    sp_entity_id=args["spEntityId"],
    name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=args["nameId"]),
    authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", "authn_auth": args["entityId"]},
    sign_assertion=True,
    sign_response=False,
    sign_alg=xmldsig.SIG_RSA_SHA256,
    digest_alg=xmldsig.DIGEST_SHA256,
    binding=BINDING_HTTP_POST,
)
sys.stdout.write(base64.b64encode(str(response).encode("utf-8")).decode("ascii"))
