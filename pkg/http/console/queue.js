// Queue: the workers, the lag per partition of the jobs topic, the jobs finished per second and
// the failures by reason (GET /v1/queue), read again every kRefreshMs while the page is shown.

import {get} from './api.js';
import {append, h, problemText, sleep, when} from './dom.js';

const kRefreshMs = 3000;

function table(id, columns, rows, empty) {
  const body = rows.length ? rows :
    [h('tr', {}, h('td', {colspan: columns.length, class: 'muted'}, empty))];
  return h('table', {id},
      h('thead', {}, h('tr', {}, columns.map((name) => h('th', {scope: 'col'}, name)))),
      h('tbody', {}, body));
}

function workers(queue) {
  const parts = [table('queue-workers', ['Worker', 'Last seen', 'Finished in the last minute'],
      queue.workers.map((w) => h('tr', {'data-worker': w.name},
          h('td', {}, w.name), h('td', {}, when(w.lastSeen)), h('td', {}, String(w.finished)))),
      'No worker started or finished a job in the last five minutes.')];
  const group = queue.group;
  if (group.members === null) {
    parts.push(h('p', {class: 'muted', id: 'queue-members-unknown'},
        `Members of the group ${group.id}: not known; ${group.membersUnknown || 'no answer'}.`));
  } else {
    parts.push(h('h3', {}, `Members of the group ${group.id}`,
        group.state ? ` (${group.state})` : ''),
    table('queue-members', ['Client', 'Host', `Partitions of ${group.topic}`],
        group.members.map((m) => h('tr', {},
            h('td', {}, m.clientId), h('td', {}, m.host),
            h('td', {}, m.partitions.join(', ') || 'none'))),
        'No member: no worker consumes the jobs.'));
  }
  return parts;
}

function lag(queue) {
  const longest = Math.max(1, ...queue.partitions.map((p) => p.lag));
  const rows = queue.partitions.map((p) => h('tr', {'data-partition': p.partition},
      h('th', {scope: 'row'}, String(p.partition)),
      h('td', {}, p.committed === null ? 'none' : String(p.committed)),
      h('td', {}, String(p.logEnd)),
      h('td', {class: 'lag'}, String(p.lag)),
      h('td', {}, h('span', {class: 'bar', 'data-width': Math.round(100 * p.lag / longest)}))));
  return [h('p', {}, 'Waiting: ', h('strong', {id: 'queue-lag'}, String(queue.lag)),
      ` job${queue.lag === 1 ? '' : 's'} on ${queue.group.topic}.`),
  table('queue-partitions', ['Partition', 'Committed', 'Log end', 'Lag', ''], rows,
      'The topic has no partition.')];
}

function finished(queue) {
  const f = queue.finished;
  return [h('p', {id: 'queue-rate'}, h('strong', {}, f.perSecond.toFixed(2)),
      ` jobs per second over the last ${f.windowSeconds} s: ${f.succeeded} succeeded, ` +
      `${f.failed} failed.`),
  table('queue-failures', ['Reason', 'Failures in the last minute'],
      queue.failures.map((r) => h('tr', {'data-reason': r.reason},
          h('td', {}, h('a', {href: '#/jobs?phase=Failed'}, r.reason)),
          h('td', {}, String(r.count)))),
      'No failure in the last minute.')];
}

export async function queue(main, _args, context) {
  const status = h('p', {class: 'muted', 'aria-live': 'polite', id: 'queue-status'});
  const live = h('div', {id: 'queue'});
  append(main, h('h1', {}, 'Queue'), status, live);
  let shown = false;
  while (!context.signal.aborted) {
    try {
      const q = await get('/v1/queue', {signal: context.signal});
      live.replaceChildren(h('h2', {}, 'Workers'), ...workers(q), h('h2', {}, 'Lag'), ...lag(q),
          h('h2', {}, 'Jobs finished'), ...finished(q));
      for (const bar of live.querySelectorAll('.bar')) {
        bar.style.width = `${bar.dataset.width * 2}px`;
      }
      shown = true;
      status.textContent = `Updated ${new Date().toLocaleTimeString()}; ` +
        `read again every ${kRefreshMs / 1000} s. Rates are what this API replica saw.`;
    } catch (error) {
      if (error.name === 'AbortError') return;
      if (!error.status) throw error;  // the key is refused, or pixq is unreachable
      // Kafka did not answer (503): say so and keep trying; what was shown stays.
      status.textContent = `Not updated at ${new Date().toLocaleTimeString()}: ` +
        `${problemText(error)}${shown ? ' (what is shown is older)' : ''}`;
    }
    await sleep(kRefreshMs, context.signal);
  }
}
