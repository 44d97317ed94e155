// pixq's API as the console calls it. The API key (asked once when the API answers 401) lives in
// sessionStorage for the browser session and travels only in the X-API-Key header: never in a
// URL, so images the console shows are fetched with it and shown from blob: URLs.

const kKeyName = 'pixq.apiKey';

export class AuthNeeded extends Error {
  constructor() {
    super('this pixq asks for an API key');
  }
}

// A problem+json answer: its status, `reason` and `detail`.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.reason = problem.reason || '';
  }
}

export function apiKey() {
  return sessionStorage.getItem(kKeyName) || '';
}

export function setApiKey(key) {
  sessionStorage.setItem(kKeyName, key);
}

export function forgetApiKey() {
  sessionStorage.removeItem(kKeyName);
}

function headers(extra = {}) {
  const out = {...extra};
  const key = apiKey();
  if (key) out['X-API-Key'] = key;
  return out;
}

async function failure(res) {
  if (res.status === 401) return new AuthNeeded();
  let problem = {};
  try {
    problem = await res.json();
  } catch {
    // Not problem+json (a proxy's page): the status says enough.
  }
  return new ApiError(res.status, problem);
}

// The JSON answer of `method path` (null for 204); throws AuthNeeded or ApiError.
export async function call(method, path, {body, signal, headers: extra} = {}) {
  const init = {method, signal, cache: 'no-store', headers: headers(extra)};
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  return res.status === 204 ? null : res.json();
}

export const get = (path, options) => call('GET', path, options);

// The bytes at `path` (an original, a variant, an output) as a blob: URL the caller revokes.
// A variant still being made (202) is asked again, a few times.
export async function blobUrl(path, signal) {
  for (let tries = 0; ; ++tries) {
    const res = await fetch(path, {signal, headers: headers()});
    if (res.status === 202 && tries < 6) continue;
    if (!res.ok || res.status === 202) throw await failure(res);
    return URL.createObjectURL(await res.blob());
  }
}

// POST /v1/images as multipart (title, then the file), reporting upload progress as a fraction;
// resolves to the image. XHR, since fetch reports no upload progress.
export function uploadImage(file, title, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('title', title);
    form.append('image', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/images');
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 401) reject(new AuthNeeded());
      else if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new ApiError(xhr.status, xhr.response || {}));
    });
    xhr.addEventListener('error', () => reject(new Error('the upload did not reach pixq')));
    xhr.send(form);
  });
}
