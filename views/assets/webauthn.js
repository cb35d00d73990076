// Passkey ceremonies for the broker's MFA pages (no inline script): reads the form's data-options, asks the browser, posts the answer in the form.
(function () {
  'use strict';
  var form = document.getElementById('webauthn-form');
  var start = document.getElementById('webauthn-start');
  if (!form || !start || !window.PublicKeyCredential) return;
  function toBuffer(value) {
    var text = atob(value.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((value.length + 3) % 4));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes.buffer;
  }
  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = '';
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function creationOptions(json) {
    var options = Object.assign({}, json, { challenge: toBuffer(json.challenge), user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }) });
    options.excludeCredentials = (json.excludeCredentials || []).map(function (c) { return Object.assign({}, c, { id: toBuffer(c.id) }); });
    return options;
  }
  function requestOptions(json) {
    var options = Object.assign({}, json, { challenge: toBuffer(json.challenge) });
    options.allowCredentials = (json.allowCredentials || []).map(function (c) { return Object.assign({}, c, { id: toBuffer(c.id) }); });
    return options;
  }
  function answer(credential) {
    if (typeof credential.toJSON === 'function') return credential.toJSON();
    var r = credential.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
    }
    return { id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type, response: response, clientExtensionResults: credential.getClientExtensionResults(), authenticatorAttachment: credential.authenticatorAttachment || undefined };
  }
  start.addEventListener('click', function () {
    var json = JSON.parse(form.getAttribute('data-options'));
    var create = form.getAttribute('data-webauthn') === 'create';
    var pending = create ? navigator.credentials.create({ publicKey: creationOptions(json) }) : navigator.credentials.get({ publicKey: requestOptions(json) });
    start.disabled = true;
    pending.then(function (credential) {
      form.elements.response.value = JSON.stringify(answer(credential));
      form.submit();
    }, function () {
      start.disabled = false;
      start.focus();
    });
  });
})();
