// The console's pages, routed by the URL's fragment (#/jobs?phase=Failed): a page renders into
// <main>, and whatever it started (long-polls, timers, blob: URLs) ends when another replaces it.

import {AuthNeeded, apiKey, blobUrl, forgetApiKey, setApiKey} from './api.js';
import {catalogue, image} from './catalogue.js';
import {h, problemText} from './dom.js';
import {job, jobs} from './jobs.js';
import {newJob} from './new_job.js';
import {queue} from './queue.js';
import {upload} from './upload.js';

const kPages = {upload, catalogue, image, jobs, job, queue, 'new-job': newJob};
const main = document.getElementById('main');
const forget = document.getElementById('forget-key');
let current = null;

// Parses "#/job/j_…?x=1" into the page's name, its path arguments and its query.
function location_() {
  const fragment = window.location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = fragment.split('?', 2);
  const [name, ...args] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return {name: name || 'catalogue', args, query: new URLSearchParams(query)};
}

// Asks for the API key, once per browser session.
function askForKey() {
  const input = h('input', {
    id: 'api-key', type: 'password', autocomplete: 'off', required: true, size: 40,
  });
  const form = h('form', {class: 'row', onsubmit: (e) => {
    e.preventDefault();
    setApiKey(input.value.trim());
    show();
  }}, h('label', {for: 'api-key'}, 'API key'), input,
  h('button', {type: 'submit', class: 'primary'}, 'Use this key'));
  const refused = apiKey() !== '';
  if (refused) forgetApiKey();
  main.replaceChildren(
      h('h1', {}, 'An API key is needed'),
      h('p', {class: refused ? 'error' : 'notice', id: 'key-needed'},
          refused ? 'pixq refused that key. ' : '',
          'This pixq runs with authentication on. The key is kept for this browser session ' +
          'only and sent as a header.'),
      form);
  input.focus();
}

function fail(error) {
  if (error.name === 'AbortError') return;
  if (error instanceof AuthNeeded) {
    if (current) current.abort.abort();
    askForKey();
    return;
  }
  console.error(error);
  main.append(h('p', {class: 'error', role: 'alert'}, problemText(error)));
}

async function show() {
  if (current) {
    current.abort.abort();
    for (const url of current.blobs) URL.revokeObjectURL(url);
  }
  const here = location_();
  const abort = new AbortController();
  const blobs = [];
  current = {abort, blobs};
  forget.hidden = apiKey() === '';
  for (const link of document.querySelectorAll('nav a')) {
    const page = link.getAttribute('href').slice(2);
    const on = page === here.name || (page === 'catalogue' && here.name === 'image') ||
        (page === 'jobs' && here.name === 'job');
    if (on) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  main.replaceChildren();
  const page = Object.hasOwn(kPages, here.name) ? kPages[here.name] : null;
  if (!page) {
    main.append(h('h1', {}, 'No such page'), h('p', {}, h('a', {href: '#/catalogue'}, 'The catalogue')));
    return;
  }
  const context = {
    signal: abort.signal,
    query: here.query,
    fail,
    // The bytes at `path` fetched with the key, as an URL that lives as long as the page.
    async blob(path) {
      const url = await blobUrl(path, abort.signal);
      if (abort.signal.aborted) URL.revokeObjectURL(url);
      else blobs.push(url);
      return url;
    },
  };
  try {
    await page(main, here.args, context);
  } catch (error) {
    fail(error);
  }
}

forget.addEventListener('click', () => {
  forgetApiKey();
  show();
});
// A new page takes the focus, as a page load would, unless it put it somewhere itself.
window.addEventListener('hashchange', () => {
  main.focus();
  show();
});
show();
