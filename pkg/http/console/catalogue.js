// Catalogue: the images in the API's order (oldest first), as thumbnails made by pixq's own variants (so served from
// its cache after the first time), filtered by title, a page at a time; and an image's page.

import {call, get} from './api.js';
import {append, bytes, details, h, phaseBadge, problemText, when} from './dom.js';

const kPageSize = 24;
const kThumbSize = 240;

export function thumbnailPath(imageId) {
  return `/v1/images/${imageId}/jpeg?width=${kThumbSize}&height=${kThumbSize}`;
}

// Fills each <img> from its path with at most four fetches at a time: a thumbnail not yet made
// waits for its job, and the browser has few connections to spare.
export function loadImages(context, pending) {
  const lanes = Array.from({length: 4}, async () => {
    while (pending.length > 0) {
      const [img, path] = pending.shift();
      try {
        img.src = await context.blob(path);
      } catch (error) {
        if (error.name === 'AbortError') return;
        img.alt = `${img.alt} (${problemText(error)})`;
      }
    }
  });
  return Promise.all(lanes);
}

export async function catalogue(main, _args, context) {
  const title = context.query.get('title') || '';
  const token = context.query.get('pageToken') || '';
  const filter = h('input', {id: 'title-filter', type: 'search', name: 'title', value: title});
  const form = h('form', {class: 'row', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    const query = new URLSearchParams();
    if (filter.value) query.set('title', filter.value);
    window.location.hash = `#/catalogue?${query}`;
  }}, h('label', {for: 'title-filter'}, 'Title contains'), filter,
  h('button', {type: 'submit'}, 'Filter'));
  append(main, h('h1', {}, 'Catalogue'), form);

  const query = new URLSearchParams({limit: kPageSize});
  if (title) query.set('title', title);
  if (token) query.set('pageToken', token);
  const page = await get(`/v1/images?${query}`, {signal: context.signal});
  const grid = h('div', {class: 'grid', id: 'catalogue-grid'});
  const pending = [];
  for (const image of page.items) {
    const label = image.title || image.filename || image.id.slice(0, 12);
    const img = h('img', {class: 'thumb', alt: `Thumbnail of ${label}`, width: kThumbSize,
      height: kThumbSize});
    pending.push([img, thumbnailPath(image.id)]);
    grid.append(h('a', {class: 'card', href: `#/image/${image.id}`, 'data-image-id': image.id},
        img, h('span', {class: 'title'}, label),
        h('span', {class: 'muted'}, `${image.width}×${image.height} ${image.format}`)));
  }
  main.append(page.items.length > 0 ? grid :
      h('p', {class: 'notice'}, title ? 'No image has that in its title.' : 'No images yet. ',
          title ? '' : h('a', {href: '#/upload'}, 'Upload some.')));
  const paging = h('div', {class: 'row'});
  if (token) {
    const first = new URLSearchParams();
    if (title) first.set('title', title);
    paging.append(h('a', {href: `#/catalogue?${first}`}, 'First page'));
  }
  if (page.nextPageToken) {
    const next = new URLSearchParams({pageToken: page.nextPageToken});
    if (title) next.set('title', title);
    paging.append(h('a', {href: `#/catalogue?${next}`, id: 'next-page'}, 'Next page'));
  }
  main.append(paging);
  await loadImages(context, pending);
}

// A download of `path`: a plain link when the API handed out a signed URL (no key needed),
// otherwise the bytes fetched with the key and saved from a blob: URL.
export function downloadControl(context, text, path, signedUrl, filename) {
  if (signedUrl) return h('a', {href: signedUrl, download: filename}, text);
  return h('button', {type: 'button', onclick: async () => {
    try {
      const link = h('a', {href: await context.blob(path), download: filename});
      document.body.append(link);
      link.click();
      link.remove();
    } catch (error) {
      context.fail(error);
    }
  }}, text);
}

export async function image(main, [id], context) {
  const meta = await get(`/v1/images/${encodeURIComponent(id)}`, {signal: context.signal});
  const label = meta.title || meta.filename || meta.id;
  const original = h('img', {alt: `The original of ${label}`, id: 'original'});
  const pending = [[original, meta.contentUrl]];
  const remove = h('button', {type: 'button', class: 'danger', id: 'delete-image'}, 'Delete…');
  const confirm = h('span', {class: 'row', hidden: true},
      'Delete this image and its stored outputs?',
      h('button', {type: 'button', class: 'danger', id: 'confirm-delete', onclick: async () => {
        try {
          await call('DELETE', `/v1/images/${meta.id}`);
          window.location.hash = '#/catalogue';
        } catch (error) {
          context.fail(error);
        }
      }}, 'Yes, delete'),
      h('button', {type: 'button', onclick: () => {
        confirm.hidden = true;
        remove.hidden = false;
        remove.focus();
      }}, 'Cancel'));
  remove.addEventListener('click', () => {
    remove.hidden = true;
    confirm.hidden = false;
    confirm.querySelector('button').focus();
  });
  const side = h('div', {class: 'side', id: 'image-jobs'},
      h('figure', {}, original, h('figcaption', {}, 'Original ',
          downloadControl(context, 'Download', meta.contentUrl, meta.signedContentUrl,
              meta.filename || `${meta.id}.${meta.format}`))));
  append(main, h('h1', {id: 'image-title'}, label),
      details([['Title', meta.title], ['File name', meta.filename], ['Format', meta.format],
        ['Size', `${meta.width}×${meta.height}, ${bytes(meta.bytes)}`],
        ['Uploaded', when(meta.createdAt)], ['Id', meta.id]]),
      h('div', {class: 'row'}, h('a', {href: `#/new-job?image=${meta.id}`}, 'New job for this image'),
          remove, confirm),
      h('h2', {}, 'The original and its jobs\' outputs'), side);

  // Its jobs, newest first, from the API's index of jobs by image.
  const kImageJobs = 100;
  const listing = await get(`/v1/jobs?image=${meta.id}&order=desc&limit=${kImageJobs}`,
      {signal: context.signal});
  for (const job of listing.items) {
    const caption = h('figcaption', {}, h('a', {href: `#/job/${job.metadata.id}`}, job.metadata.id),
        ' ', phaseBadge(job.status.phase));
    const figure = h('figure', {'data-job-id': job.metadata.id}, caption);
    if (job.status.phase === 'Succeeded' && job.status.output) {
      const out = job.status.output;
      const img = h('img', {alt: `Output of ${job.metadata.id}`});
      figure.prepend(img);
      pending.push([img, out.url]);
      append(caption, ' ', `${out.width}×${out.height} ${out.format}, ${bytes(out.bytes)} `,
          downloadControl(context, 'Download', out.url, out.signedUrl,
              `${job.metadata.id}.${out.format}`));
    } else if (job.status.reason) {
      append(caption, h('div', {class: 'error'}, job.status.reason));
    }
    side.append(figure);
  }
  if (listing.items.length === 0) {
    main.append(h('p', {class: 'muted'}, 'No job has read this image yet.'));
  } else if (listing.nextPageToken) {
    main.append(h('p', {class: 'muted'}, `Its ${kImageJobs} newest jobs. `,
        h('a', {href: `#/jobs?image=${meta.id}`}, 'All its jobs')));
  }
  await loadImages(context, pending);
}
