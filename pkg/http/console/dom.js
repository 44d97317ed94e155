// Building the page: everything that came from the API or a user is set as text, never parsed
// as markup (no innerHTML anywhere in the console).

// h('a', {href: '#/jobs', class: 'x', onclick: f}, 'text', child…): an element whose string
// children become text nodes. Attributes are set with setAttribute; `on…` adds listeners.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(el, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// A definition list from [term, value] pairs; pairs whose value is null are left out.
export function details(pairs) {
  const dl = h('dl');
  for (const [term, value] of pairs) {
    if (value === undefined || value === null || value === '') continue;
    append(dl, h('dt', {}, term), h('dd', {}, value));
  }
  return dl;
}

export function phaseBadge(phase) {
  return h('span', {class: `phase phase-${phase}`}, phase);
}

export function bytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

// A message for a failed call: the problem's reason and detail.
export function problemText(error) {
  return error.reason ? `${error.reason}: ${error.message}` : String(error.message || error);
}

// Resolves after `ms`, or at once when `signal` aborts (the page was left).
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, {once: true});
  });
}
