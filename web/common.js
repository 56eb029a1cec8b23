// What every page of the web app shares: reading the APIs with the
// session cookie (a 401 sends the browser back to sign-in; an error
// carries the API's reason, an OperationOutcome's too), making elements
// with text (never markup), table rows, and the session: who is signed in
// (the header's "who"), and signing out. Loaded before each page's script.
'use strict';

window.carelake = (function () {
  const $ = (id) => document.getElementById(id);
  // state-changing calls made with the cookie say they come from the app
  const HDR = { 'X-Requested-With': 'carelake' };

  async function api(path, opts) {
    const r = await fetch(path, Object.assign({ credentials: 'same-origin' }, opts || {}));
    if (r.status === 401) {   // the session ended: sign in again
      location.assign('/');
      throw new Error('signed out');
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      const issue = body.issue && body.issue[0];
      const why = body.detail || (issue && (issue.diagnostics || issue.details && issue.details.text));
      throw Object.assign(new Error(why || ('HTTP ' + r.status)), { status: r.status });
    }
    return body;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls)
      e.className = cls;
    if (text !== undefined)
      e.textContent = text;
    return e;
  }

  async function signOut() {
    const r = await fetch('/app/session/logout', { method: 'POST', credentials: 'same-origin',
                                                    headers: HDR });
    await r.text().catch(() => '');   // the whole answer before leaving the page
    location.assign('/');
  }

  // The session, its name and role shown in #who and #signout wired; null
  // (and the browser sent to sign in) when there is none.
  async function session() {
    const s = await api('/app/session');
    if (!s.signed_in) {
      location.assign('/');
      return null;
    }
    $('who').textContent = s.name + ' (' + s.role + ')';
    $('signout').addEventListener('click', signOut);
    return s;
  }

  // A table's row: the first cell a row header, Nodes put in as they are,
  // anything else as text; data into the row's dataset.
  function row(cells, data) {
    const tr = el('tr');
    cells.forEach((c, i) => {
      const td = el(i === 0 ? 'th' : 'td');
      if (i === 0)
        td.scope = 'row';
      if (c instanceof Node)
        td.append(c);
      else
        td.textContent = String(c ?? '');
      tr.append(td);
    });
    Object.assign(tr.dataset, data || {});
    return tr;
  }

  // The rows of table #id's body, or one row saying `empty`.
  function fillTable(id, rows, empty) {
    const body = $(id).tBodies[0];
    body.replaceChildren(...rows);
    if (!rows.length)
      body.append(row([empty, ...Array($(id).tHead.rows[0].cells.length - 1).fill('')]));
  }

  return { $, HDR, api, el, session, row, fillTable };
})();
