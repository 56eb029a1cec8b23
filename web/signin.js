// The sign-in page: a token becomes a session cookie (POST /app/session,
// the token in the Authorization header, never in a URL); signed in, it
// lists the pages the role may open and signs out.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const HDR = { 'X-Requested-With': 'carelake' };

  function showSignIn() {
    $('home').hidden = true;
    $('signin').hidden = false;
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
      showSignIn();
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
    showSignIn();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    load().catch((e) => { $('signin-error').textContent = 'carelake cannot be reached: ' + e.message; showSignIn(); });
  });
})();
