// Upload: files dropped or picked, a title each (the file's name to start with), one progress
// bar per file.

import {AuthNeeded, uploadImage} from './api.js';
import {append, h, problemText} from './dom.js';

export async function upload(main, _args, context) {
  const list = h('ol', {class: 'uploads', id: 'upload-list'});
  const rows = [];
  const input = h('input', {id: 'files', type: 'file', multiple: true, accept: 'image/*'});
  const start = h('button', {type: 'button', class: 'primary', id: 'start-upload', disabled: true},
      'Upload');

  function add(files) {
    for (const file of files) {
      const title = h('input', {
        type: 'text', value: file.name.replace(/\.[^.]*$/, ''), 'aria-label': `Title of ${file.name}`,
        class: 'title-input', maxlength: 512,
      });
      const progress = h('progress', {max: 1, value: 0, 'aria-label': `Progress of ${file.name}`});
      const status = h('span', {class: 'status muted'}, 'ready');
      rows.push({file, title, progress, status, done: false});
      list.append(h('li', {}, h('span', {class: 'name'}, file.name), title, progress, status));
    }
    start.disabled = !rows.some((row) => !row.done);
  }

  async function send(row) {
    row.status.textContent = 'uploading';
    row.title.disabled = true;
    try {
      const image = await uploadImage(row.file, row.title.value,
          (fraction) => { row.progress.value = fraction; });
      row.done = true;
      row.progress.value = 1;
      row.status.replaceChildren('Uploaded: ', h('a', {href: `#/image/${image.id}`}, 'its page'));
    } catch (error) {
      if (error instanceof AuthNeeded) {
        context.fail(error);
        return;
      }
      row.title.disabled = false;
      row.status.className = 'status error';
      row.status.textContent = problemText(error);
    }
  }

  input.addEventListener('change', () => add(input.files));
  start.addEventListener('click', async () => {
    start.disabled = true;
    // Three at a time: the bars move together and the browser keeps connections for the rest.
    const waiting = rows.filter((row) => !row.done);
    const lanes = Array.from({length: 3}, async () => {
      while (waiting.length > 0) await send(waiting.shift());
    });
    await Promise.all(lanes);
    start.disabled = !rows.some((row) => !row.done);
  });

  const drop = h('label', {class: 'drop', for: 'files'},
      h('strong', {}, 'Drop images here'), ' or choose them: ', input);
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    add(e.dataTransfer.files);
  });
  append(main, h('h1', {}, 'Upload'), drop,
      h('p', {class: 'muted'}, 'Each file gets its own title; change it before uploading.'),
      list, h('div', {class: 'row'}, start, h('a', {href: '#/catalogue'}, 'To the catalogue')));
}
