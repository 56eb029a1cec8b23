// The sign-in page: a token becomes a session cookie (POST /app/session,
// the token in the Authorization header, never in a URL); signed in, it
// lists the pages the role may open and signs out.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const HDR = { 'X-Requested-With': 'carelake' };

  // why signing in at the identity provider failed (/?error=oidc-...)
  const OIDC_ERRORS = {
    'oidc-provider': 'The identity provider did not sign you in.',
    'oidc-request': 'The identity provider sent back an incomplete answer. Try again.',
    'oidc-state': 'That sign-in was not begun in this browser, took over ten minutes, or was ' +
                  'used already. Try again.',
    'oidc-exchange': 'carelake could not complete the sign-in with the identity provider. ' +
                     'Try again; if it persists, tell your administrator.',
    'oidc-token': 'The identity provider\'s token is not accepted by carelake (its issuer, ' +
                  'audience, signature, expiry or role).',
    'oidc-role': 'Your role may not use the dashboards.',
    'oidc-busy': 'Too many people are signed in. Try again later.',
  };

  function showSignIn(s) {
    $('home').hidden = true;
    $('signin').hidden = false;
    $('oidc').hidden = !(s && s.oidc);
    const code = new URLSearchParams(location.search).get('error');
    if (code)
      $('signin-error').textContent = OIDC_ERRORS[code] || 'Signing in failed.';
    $('token').focus();
  }

  function showHome(s) {
    $('signin').hidden = true;
    $('home').hidden = false;
    $('who').textContent = 'Signed in as ' + s.name + ' (' + s.role + ').';
    const list = $('pages');
    list.replaceChildren();
    for (const p of s.pages) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = p.path;
      a.textContent = p.title;
      li.append(a);
      list.append(li);
    }
    $('no-pages').hidden = s.pages.length > 0;
  }

  async function load() {
    const r = await fetch('/app/session', { credentials: 'same-origin' });
    const s = await r.json();
    if (s.signed_in)
      showHome(s);
    else
      showSignIn(s);
  }

  async function signIn(ev) {
    ev.preventDefault();
    const field = $('token');
    const token = field.value.trim();
    $('signin-error').textContent = '';
    if (!token) {
      $('signin-error').textContent = 'Enter your access token.';
      return;
    }
    const r = await fetch('/app/session', {
      method: 'POST', credentials: 'same-origin',
      headers: Object.assign({ Authorization: 'Bearer ' + token }, HDR),
    });
    field.value = '';
    const s = await r.json().catch(() => ({}));
    if (!r.ok) {
      $('signin-error').textContent = 'Not signed in: ' + (s.detail || ('HTTP ' + r.status));
      return;
    }
    if (s.pages && s.pages.length > 0)
      location.assign(s.pages[0].path);
    else
      showHome(s);
  }

  async function signOut() {
    await fetch('/app/session/logout', { method: 'POST', credentials: 'same-origin', headers: HDR });
    await load();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    load().catch((e) => { $('signin-error').textContent = 'carelake cannot be reached: ' + e.message; showSignIn(); });
  });
})();
