// New job: a form that builds a spec (an image, steps in order, the output's format and
// quality), shows it as JSON while it is built, submits it and follows the job it made.

import {call, get} from './api.js';
import {append, h, phaseBadge, problemText} from './dom.js';

// Each operation's fields: [name, label, input attributes, default].
const kOps = {
  resize: [['width', 'Width', {type: 'number', min: 1}, 800],
    ['height', 'Height', {type: 'number', min: 1}, 800],
    ['fit', 'Fit', {options: ['inside', 'cover', 'fill']}, 'inside']],
  crop: [['width', 'Width', {type: 'number', min: 1}, 400],
    ['height', 'Height', {type: 'number', min: 1}, 400],
    ['x', 'X', {type: 'number', min: 0}, ''], ['y', 'Y', {type: 'number', min: 0}, '']],
  rotate: [['degrees', 'Degrees', {options: ['90', '180', '270', '-90']}, '90']],
  mirror: [],
  flip: [],
  grayscale: [],
  blur: [['sigma', 'Sigma', {type: 'number', min: 0.1, max: 100, step: 0.1}, 1]],
  sharpen: [['sigma', 'Sigma', {type: 'number', min: 0.1, max: 10, step: 0.1}, 1],
    ['amount', 'Amount', {type: 'number', min: 0, max: 10, step: 0.1}, 1]],
};
const kTextFields = new Set(['fit']);
let counter = 0;

function field(name, label, attrs, value, onInput) {
  const id = `f${++counter}`;
  let input;
  if (attrs.options) {
    input = h('select', {id, 'data-field': name}, attrs.options.map((option) =>
      h('option', {value: option, selected: String(value) === option}, option)));
  } else {
    input = h('input', {id, 'data-field': name, ...attrs, value, size: 6});
  }
  input.addEventListener('input', onInput);
  return h('label', {for: id}, label, input);
}

export async function newJob(main, _args, context) {
  const images = await get('/v1/images?limit=100', {signal: context.signal});
  const chosen = context.query.get('image') || '';
  const image = h('select', {id: 'job-image', required: true},
      images.items.map((item) => h('option', {value: item.id, selected: item.id === chosen},
          `${item.title || item.filename || item.id.slice(0, 12)} (${item.width}×${item.height})`)));
  const steps = h('ol', {class: 'steps', id: 'job-steps'});
  const format = h('select', {id: 'job-format'},
      ['jpeg', 'png', 'webp'].map((name) => h('option', {value: name}, name)));
  const quality = h('input', {id: 'job-quality', type: 'number', min: 1, max: 100,
    placeholder: 'default'});
  const preview = h('pre', {id: 'job-preview'});
  const result = h('div', {id: 'job-result', 'aria-live': 'polite'});

  function spec() {
    const out = {source: {imageId: image.value}, steps: [], output: {format: format.value}};
    for (const item of steps.children) {
      const step = {op: item.dataset.op};
      for (const input of item.querySelectorAll('[data-field]')) {
        if (input.value === '') continue;
        step[input.dataset.field] = kTextFields.has(input.dataset.field) ? input.value :
          Number(input.value);
      }
      out.steps.push(step);
    }
    if (quality.value !== '' && format.value !== 'png') out.output.quality = Number(quality.value);
    return out;
  }
  const update = () => { preview.textContent = JSON.stringify(spec(), null, 2); };

  function addStep(op) {
    const item = h('li', {'data-op': op});
    const move = (by) => {
      const to = by < 0 ? item.previousElementSibling : item.nextElementSibling?.nextElementSibling;
      if (by < 0 && !to) return;
      steps.insertBefore(item, to ?? null);
      update();
    };
    append(item, h('div', {class: 'row'}, h('strong', {}, op),
        kOps[op].map(([name, label, attrs, value]) => field(name, label, attrs, value, update)),
        h('button', {type: 'button', 'aria-label': `Move ${op} up`, onclick: () => move(-1)}, '↑'),
        h('button', {type: 'button', 'aria-label': `Move ${op} down`, onclick: () => move(1)}, '↓'),
        h('button', {type: 'button', 'aria-label': `Remove ${op}`, onclick: () => {
          item.remove();
          update();
        }}, 'Remove')));
    steps.append(item);
    update();
  }

  const op = h('select', {id: 'step-op'}, Object.keys(kOps).map((name) =>
    h('option', {value: name}, name)));
  const submit = h('button', {type: 'submit', class: 'primary', id: 'submit-job'}, 'Submit');
  const form = h('form', {id: 'new-job', onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    result.replaceChildren(h('p', {class: 'muted'}, 'Submitting…'));
    try {
      let record = await call('POST', '/v1/jobs', {body: spec(), signal: context.signal});
      const phase = h('span', {}, phaseBadge(record.status.phase));
      result.replaceChildren(h('p', {class: 'notice'}, 'Accepted: ',
          h('a', {href: `#/job/${record.metadata.id}`, id: 'submitted-job'}, record.metadata.id),
          ' — ', phase));
      while (!['Succeeded', 'Failed'].includes(record.status.phase)) {
        record = await get(`/v1/jobs/${record.metadata.id}?wait=30s&until=done`,
            {signal: context.signal});
      }
      phase.replaceChildren(phaseBadge(record.status.phase));
      if (record.status.phase === 'Succeeded') {
        const img = h('img', {alt: 'The output', id: 'new-job-output'});
        result.append(h('figure', {}, img));
        img.src = await context.blob(record.status.output.url);
      } else {
        result.append(h('p', {class: 'error'}, `${record.status.reason}: ${record.status.message}`));
      }
    } catch (error) {
      if (error.name === 'AbortError') return;
      if (error.status) result.replaceChildren(h('p', {class: 'error'}, problemText(error)));
      else context.fail(error);
    } finally {
      submit.disabled = false;
    }
  }},
  h('div', {class: 'row'}, h('label', {for: 'job-image'}, 'Image'), image),
  h('h2', {}, 'Steps, in order'), steps,
  h('div', {class: 'row'}, h('label', {for: 'step-op'}, 'Operation'), op,
      h('button', {type: 'button', id: 'add-step', onclick: () => addStep(op.value)}, 'Add step')),
  h('h2', {}, 'Output'),
  h('div', {class: 'row'}, h('label', {for: 'job-format'}, 'Format'), format,
      h('label', {for: 'job-quality'}, 'Quality'), quality),
  h('div', {class: 'row'}, submit));
  form.addEventListener('input', update);
  form.addEventListener('change', update);
  append(main, h('h1', {}, 'New job'));
  if (images.items.length === 0) {
    main.append(h('p', {class: 'notice'}, 'Upload an image first: ', h('a', {href: '#/upload'},
        'Upload')));
    return;
  }
  append(main, h('div', {class: 'side'}, form,
      h('section', {}, h('h2', {}, 'Spec'), preview)), result);
  update();
}
