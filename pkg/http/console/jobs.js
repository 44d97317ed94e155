// Jobs: the jobs newest first (the API's order=desc), filtered by phase and by image, kept current without a reload; a job's page, followed
// with the API's long-poll until it ends, with its retry.

import {call, get} from './api.js';
import {append, bytes, details, h, phaseBadge, sleep, when} from './dom.js';

const kPhases = ['Pending', 'Running', 'Succeeded', 'Failed'];
// The listing has no change feed to wait on, and a long-poll waits on one job: so the list
// long-polls up to kWatched of the unfinished jobs it shows, reads itself again as soon as one of
// them changes, and otherwise every kListRefreshMs for jobs submitted meanwhile. kWatched leaves
// most of the browser's six connections to pixq-api for the rest.
const kWatched = 3;
const kListRefreshMs = 5000;
const kPageSize = 50;

// A key that makes a double click one retry (crypto.randomUUID needs a secure context).
function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function stepsText(steps) {
  if (!steps || steps.length === 0) return 'no steps';
  return steps.map((step) => {
    const {op, ...rest} = step;
    const args = Object.entries(rest).filter(([, v]) => v !== null && v !== false)
        .map(([k, v]) => `${k}=${v}`);
    return args.length ? `${op}(${args.join(', ')})` : op;
  }).join(' → ');
}

function sourceText(source) {
  if (source.imageId) return `image ${source.imageId.slice(0, 12)}…`;
  if (source.url) return source.url;
  return JSON.stringify(source);
}

function row(job) {
  const s = job.status;
  return h('tr', {'data-job-id': job.metadata.id, 'data-phase': s.phase},
      h('td', {}, h('a', {href: `#/job/${job.metadata.id}`}, job.metadata.id)),
      h('td', {}, phaseBadge(s.phase)),
      h('td', {}, sourceText(job.spec.source)),
      h('td', {}, `${stepsText(job.spec.steps)} → ${job.spec.output.format}`),
      h('td', {}, String(s.attempts)),
      h('td', {class: 'reason'}, s.reason ? `${s.reason}${s.message ? `: ${s.message}` : ''}` : ''),
      h('td', {}, when(job.metadata.createdAt)));
}

export async function jobs(main, _args, context) {
  const phase = context.query.get('phase') || '';
  const image = context.query.get('image') || '';
  const token = context.query.get('pageToken') || '';
  // The listing's filter, as this page's links carry it: the phase links keep the image.
  const filtered = (params) => {
    const out = new URLSearchParams(params);
    if (image) out.set('image', image);
    return out;
  };
  const filters = h('div', {class: 'row filters', role: 'group', 'aria-label': 'Phase'});
  const labels = {'': 'All', 'Pending,Running': 'Unfinished'};
  for (const name of ['', 'Pending,Running', ...kPhases]) {
    const params = filtered(name ? {phase: name} : {}).toString();
    filters.append(h('a', {href: params ? `#/jobs?${params}` : '#/jobs',
      'aria-current': name === phase ? 'true' : false}, labels[name] ?? name));
  }
  const body = h('tbody', {id: 'job-rows'});
  const status = h('p', {class: 'muted', 'aria-live': 'polite'});
  const paging = h('div', {class: 'row'});
  append(main, h('h1', {}, 'Jobs'), filters);
  if (image) {
    main.append(h('p', {class: 'row', id: 'jobs-image'}, 'The jobs of ',
        h('a', {href: `#/image/${image}`}, `image ${image.slice(0, 12)}…`), ' ',
        h('a', {href: phase ? `#/jobs?phase=${phase}` : '#/jobs'}, 'Every image\'s')));
  }
  append(main,
      h('table', {}, h('thead', {}, h('tr', {}, ['Job', 'Phase', 'Source', 'Steps', 'Attempts',
        'Reason', 'Created'].map((name) => h('th', {scope: 'col'}, name)))), body),
      status, paging);

  // Newest first: what was just submitted is on top of the first page, which updates live.
  const query = filtered({limit: kPageSize, order: 'desc'});
  if (phase) query.set('phase', phase);
  if (token) query.set('pageToken', token);
  const watching = new Set();  // the ids of the jobs whose long-poll is out
  let changed = false;
  let wake = () => {};
  function watch(items) {
    for (const item of items) {
      const id = item.metadata.id;
      if (watching.size >= kWatched) return;
      if (['Succeeded', 'Failed'].includes(item.status.phase) || watching.has(id)) continue;
      watching.add(id);
      get(`/v1/jobs/${id}?wait=25s`, {signal: context.signal}).catch(() => {
        // Deleted, or the key is gone: the list's own read says so.
      }).finally(() => {
        watching.delete(id);
        changed = true;
        wake();
      });
    }
  }
  const woken = () => new Promise((resolve) => {
    wake = resolve;
    if (changed) resolve();
  });
  // Read again while this page is shown (the first page only).
  for (;;) {
    changed = false;
    const page = await get(`/v1/jobs?${query}`, {signal: context.signal});
    body.replaceChildren(...page.items.map(row));
    if (page.items.length === 0) {
      body.append(h('tr', {}, h('td', {colspan: 7, class: 'muted'}, 'No jobs.')));
    }
    status.textContent = token ? 'A later page: not updated.' :
      `Newest first. Updated ${new Date().toLocaleTimeString()}; updates live.`;
    paging.replaceChildren();
    if (page.nextPageToken) {
      // The token carries the order; the filter goes with it.
      const next = filtered({pageToken: page.nextPageToken});
      if (phase) next.set('phase', phase);
      paging.append(h('a', {href: `#/jobs?${next}`}, 'Next page'));
    }
    if (token) return;
    watch(page.items);
    await Promise.race([sleep(kListRefreshMs, context.signal), woken()]);
    if (context.signal.aborted) return;
  }
}

function timings(t) {
  if (!t) return null;
  const stages = [['Queue', t.queueMs], ['Fetch', t.fetchMs], ['Decode', t.decodeMs],
    ['Process', t.processMs], ['Encode', t.encodeMs], ['Store', t.storeMs]];
  const longest = Math.max(1, ...stages.map(([, ms]) => ms || 0));
  return h('table', {id: 'timings'},
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Stage'), h('th', {scope: 'col'}, 'ms'),
          h('th', {scope: 'col'}, ''))),
      h('tbody', {}, stages.map(([name, ms]) => h('tr', {},
          h('th', {scope: 'row'}, name), h('td', {}, String(ms ?? 0)),
          h('td', {}, h('span', {class: 'bar', 'data-width': Math.round(100 * (ms || 0) / longest)}))))));
}

// Renders a job into `into`; returns whether it ended.
function renderJob(into, job, context, onRetry) {
  const s = job.status;
  const parts = [
    h('p', {class: 'row'}, 'Phase: ', h('strong', {id: 'job-phase'}, phaseBadge(s.phase))),
    details([['Attempts', String(s.attempts)], ['Retries', s.retries ? String(s.retries) : null],
      ['Reason', s.reason], ['Message', s.message], ['Worker', s.worker],
      ['Trace', job.metadata.traceId ? h('code', {id: 'job-trace'}, job.metadata.traceId) : null],
      ['Created', when(job.metadata.createdAt)], ['Started', when(s.startedAt)],
      ['Finished', when(s.finishedAt)], ['From the cache', s.cacheHit ? 'yes' : null],
      ['Batch', job.metadata.batchId ?
        h('span', {}, `${job.metadata.batchId} #${job.metadata.batchIndex}`) : null]]),
  ];
  if (s.phase === 'Failed') {
    parts.push(h('p', {class: 'row'}, h('button', {type: 'button', class: 'primary',
      id: 'retry', onclick: onRetry}, 'Retry'), h('span', {class: 'muted'},
        'Runs the job again from its spec; the attempts count from 1 again.')));
  }
  const side = h('div', {class: 'side', id: 'job-images'});
  parts.push(h('h2', {}, 'Original and output'), side, h('h2', {}, 'Stages'),
      timings(s.timings));
  into.replaceChildren(...parts);
  for (const bar of into.querySelectorAll('.bar')) {
    bar.style.width = `${bar.dataset.width * 2}px`;
  }
  const loads = [];
  if (s.imageId || job.spec.source.imageId) {
    const id = s.imageId || job.spec.source.imageId;
    const img = h('img', {alt: 'The original'});
    side.append(h('figure', {}, img, h('figcaption', {}, 'Original ',
        h('a', {href: `#/image/${id}`}, 'image page'))));
    loads.push([img, `/v1/images/${id}/content`]);
  }
  if (s.phase === 'Succeeded' && s.output) {
    const img = h('img', {alt: 'The output', id: 'job-output'});
    side.append(h('figure', {}, img, h('figcaption', {},
        `${s.output.width}×${s.output.height} ${s.output.format}, ${bytes(s.output.bytes)}`)));
    loads.push([img, s.output.url]);
  } else if (s.phase !== 'Failed') {
    side.append(h('p', {class: 'muted'}, 'Not made yet.'));
  }
  for (const [img, path] of loads) {
    context.blob(path).then((url) => { img.src = url; }).catch(() => {
      img.alt = `${img.alt} (could not be loaded)`;
    });
  }
  return s.phase === 'Succeeded' || s.phase === 'Failed';
}

export async function job(main, [id], context) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const live = h('div', {id: 'job'});
  const spec = h('pre', {id: 'job-spec'});
  const note = h('p', {class: 'muted', role: 'status'});
  append(main, h('h1', {}, `Job ${id}`), note, live, h('h2', {}, 'Spec'), spec);
  let record = await get(path, {signal: context.signal});
  // One key per failure seen: a second click on the same Retry is the same retry.
  let retryKey = randomKey();
  // Follows the job with long-polls (each answers at its next change) until it ends; a retry
  // starts following again.
  const follow = async () => {
    for (;;) {
      spec.textContent = JSON.stringify(record.spec, null, 2);
      const ended = renderJob(live, record, context, retry);
      if (ended || context.signal.aborted) return;
      record = await get(`${path}?wait=30s`, {signal: context.signal});
    }
  };
  async function retry(event) {
    event.target.disabled = true;
    try {
      record = await call('POST', `${path}/retry`, {
        signal: context.signal, headers: {'Idempotency-Key': retryKey},
      });
      retryKey = randomKey();
      note.textContent = `Retried at ${new Date().toLocaleTimeString()} ` +
        `(retry ${record.status.retries ?? 1}); the attempt below is the new one.`;
      await follow();
    } catch (error) {
      context.fail(error);
    }
  }
  await follow();
}
