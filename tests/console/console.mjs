// pixq's web console (GET /console) in Chromium, driven with puppeteer-core over the DevTools
// connection of a Chromium that console_test.cc started (kept off every network but loopback).
// Every scenario of docs/console.md runs here, against the real pixq-api and workers, in order:
//   1. with auth on, the console asks for a key and shows nothing without one; with it, it works;
//   2. three photos uploaded through the file input (one titled with markup) show as thumbnails;
//   3. the markup title appears as those characters, and no script runs (a dialog fails the run);
//   4. a job submitted from the form reaches Succeeded in the Jobs list without a reload;
//   5. a job that fails in the worker is opened, retried, and the new attempt shown;
//   6. the page's Content-Security-Policy and nosniff headers; the key in no URL and not in the
//      page's HTML; nothing requested from anywhere but pixq-api;
//   7. the Jobs list newest first, and an image's page listing that image's jobs (?image=);
//   8. the Queue page shows the workers, the lag, the rate and a failure by its reason, and reads
//      itself again; a job's page shows its trace id.
// Environment: PIXQ_URL, PIXQ_API_KEY, PIXQ_PHOTOS (three paths, ':'-separated),
// PIXQ_DEVTOOLS_WS (Chromium's browser endpoint), PIXQ_SHOTS (a directory for screenshots).
// Closes Chromium at the end. Exits 0 when all held; otherwise prints what did not and exits 1.

import {join} from 'node:path';

import puppeteer from 'puppeteer-core';

const base = process.env.PIXQ_URL;
const key = process.env.PIXQ_API_KEY;
const photos = process.env.PIXQ_PHOTOS.split(':');
const shots = process.env.PIXQ_SHOTS;
const kMarkupTitle = '<img src=x onerror=alert(1)>';
const kWait = {timeout: 60000};

const problems = [];
function check(condition, what) {
  if (!condition) problems.push(what);
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${what}`);
}

const browser = await puppeteer.connect({
  browserWSEndpoint: process.env.PIXQ_DEVTOOLS_WS,
  defaultViewport: {width: 1100, height: 720},
});
let failed = false;
try {
  const page = await browser.newPage();
  page.on('dialog', async (dialog) => {
    problems.push(`a dialog opened (a script ran?): ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.on('pageerror', (error) => problems.push(`uncaught in the page: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/.test(message.text())) {
      problems.push(`blocked by the policy: ${message.text()}`);
    }
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`${base}/`) && !url.startsWith('blob:') && !url.startsWith('data:')) {
      problems.push(`the console requested ${url}`);
    }
    if (url.includes(key) || url.includes(encodeURIComponent(key))) {
      problems.push(`the API key is in a URL: ${url}`);
    }
  });
  const shot = (name) => page.screenshot({path: join(shots, name), type: 'png'});
  const go = (hash) => page.evaluate((to) => { window.location.hash = to; }, hash);
  const text = (selector) => page.$eval(selector, (el) => el.textContent);

  // 1. No key: asked for one, and nothing shown.
  const response = await page.goto(`${base}/console`, {waitUntil: 'load'});
  const headers = response.headers();
  const csp = headers['content-security-policy'] || '';
  check(/(^|; )script-src 'self'(;|$)/.test(csp), `script-src is 'self' alone: ${csp}`);
  check(/(^|; )style-src 'self'(;|$)/.test(csp), `style-src is 'self' alone: ${csp}`);
  check(/(^|; )default-src 'none'/.test(csp), 'default-src is none');
  check(!csp.includes('unsafe'), 'no unsafe-inline, no unsafe-eval');
  check(headers['x-content-type-options'] === 'nosniff', 'X-Content-Type-Options: nosniff');
  await page.waitForSelector('#api-key', kWait);
  check(await page.$('#catalogue-grid') === null, 'without a key, no catalogue is shown');
  check((await text('h1')).includes('API key'), 'without a key, the console asks for one');
  await shot('console-key.png');

  // With the key: the catalogue (empty so far).
  await page.type('#api-key', key);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Catalogue', kWait);
  check(true, 'with the key, the catalogue opens');

  // 2. Three photos through the file input, the first titled with markup.
  await go('#/upload');
  const input = await page.waitForSelector('#files', kWait);
  await input.uploadFile(...photos);
  await page.waitForFunction(() => document.querySelectorAll('#upload-list li').length === 3, kWait);
  const title = await page.$('#upload-list li .title-input');
  await title.click({clickCount: 3});
  await title.type(kMarkupTitle);
  await page.click('#start-upload');
  await page.waitForFunction(
      () => document.querySelectorAll('#upload-list .status a').length === 3, kWait);
  const bars = await page.$$eval('#upload-list progress', (all) => all.map((bar) => bar.value));
  check(bars.every((value) => value === 1), `every progress bar full: ${bars}`);
  await shot('console-upload.png');

  // The catalogue's thumbnails, made by the jpeg variant and shown from blob: URLs.
  await page.click('nav a[href="#/catalogue"]');
  await page.waitForFunction(() => {
    const thumbs = [...document.querySelectorAll('#catalogue-grid img.thumb')];
    return thumbs.length === 3 && thumbs.every((img) => img.complete && img.naturalWidth > 0);
  }, kWait);
  const sources = await page.$$eval('#catalogue-grid img.thumb', (all) => all.map((i) => i.src));
  check(sources.every((src) => src.startsWith('blob:')), 'thumbnails come from blob: URLs');
  // 3. The title as characters, and no element made of it.
  const titles = await page.$$eval('#catalogue-grid .title', (all) => all.map((t) => t.textContent));
  check(titles.includes(kMarkupTitle), `the markup title is shown as text: ${titles}`);
  check(await page.$('img[src="x"]') === null, 'no <img src=x> was made from the title');
  await shot('console-catalogue.png');
  const card = await page.evaluateHandle((wanted) => [...document.querySelectorAll(
      '#catalogue-grid a.card')].find((a) => a.querySelector('.title').textContent === wanted),
  kMarkupTitle);
  await card.click();
  await page.waitForSelector('#image-title', kWait);
  await page.waitForFunction(() => document.querySelector('#original')?.naturalWidth > 0, kWait);
  check(await text('#image-title') === kMarkupTitle, 'its page has the markup title as text');
  check(await page.$('img[src="x"]') === null, 'its page made no <img src=x> either');
  await shot('console-image.png');

  // 4. A job from the form, followed in the list without a reload.
  await page.evaluate(() => { window.pixqNotReloaded = true; });
  await page.click('nav a[href="#/new-job"]');
  await page.waitForSelector('#add-step', kWait);
  await page.select('#step-op', 'resize');
  await page.click('#add-step');
  await page.select('#step-op', 'grayscale');
  await page.click('#add-step');
  for (const [field, value] of [['width', '320'], ['height', '320']]) {
    const box = await page.$(`#job-steps li[data-op="resize"] [data-field="${field}"]`);
    await box.click({clickCount: 3});
    await box.type(value);
  }
  await page.select('#job-format', 'webp');
  await page.type('#job-quality', '70');
  const spec = JSON.parse(await text('#job-preview'));
  check(spec.steps.length === 2 && spec.steps[0].op === 'resize' && spec.steps[0].width === 320 &&
        spec.output.format === 'webp' && spec.output.quality === 70,
  `the form builds the spec: ${JSON.stringify(spec)}`);
  await shot('console-new-job.png');
  await page.click('#submit-job');
  await page.waitForSelector('#submitted-job', kWait);
  const jobId = await text('#submitted-job');
  await page.click('nav a[href="#/jobs"]');
  await page.waitForSelector(`#job-rows tr[data-job-id="${jobId}"]`, kWait);
  await page.waitForSelector(`#job-rows tr[data-job-id="${jobId}"][data-phase="Succeeded"]`, kWait);
  check(await page.evaluate(() => window.pixqNotReloaded === true),
      `${jobId} reached Succeeded in the list without a reload`);
  await shot('console-jobs.png');
  await page.click(`#job-rows tr[data-job-id="${jobId}"] a`);
  await page.waitForFunction(() => document.querySelector('#job-output')?.naturalWidth > 0, kWait);
  const size = await page.$eval('#job-output', (img) => [img.naturalWidth, img.naturalHeight]);
  check(Math.max(...size) === 320, `the job's output is shown, fitted in 320: ${size}`);
  check((await text('#timings')).includes('Decode'), 'the job page shows its stages');
  await shot('console-job.png');

  // 5. A crop outside the image fails in the worker; opened, retried, the new attempt shown.
  await go('#/new-job');
  await page.waitForSelector('#add-step', kWait);
  await page.select('#step-op', 'crop');
  await page.click('#add-step');
  for (const field of ['x', 'y']) {
    await page.type(`#job-steps li[data-op="crop"] [data-field="${field}"]`, '90000');
  }
  await page.click('#submit-job');
  await page.waitForSelector('#submitted-job', kWait);
  const failedId = await text('#submitted-job');
  await page.waitForFunction(() => document.querySelector('#job-result .error'), kWait);
  await page.click('#submitted-job');
  await page.waitForSelector('#retry', kWait);
  const failure = await text('#job');
  check(failure.includes('InvalidCrop'), `${failedId} shows its reason: ${failure}`);
  await page.click('#retry');
  await page.waitForFunction(() => {
    const terms = [...document.querySelectorAll('#job dt')];
    const retries = terms.find((dt) => dt.textContent === 'Retries');
    return retries && retries.nextElementSibling.textContent === '1' &&
      document.querySelector('#job-phase')?.textContent === 'Failed';
  }, kWait);
  check((await text('[role="status"]')).includes('Retried'), `${failedId} was retried`);
  await shot('console-retried.png');

  // 6. The key never in the page's HTML (it is in sessionStorage and headers only).
  check(!(await page.content()).includes(key), 'the API key is not in the page\'s HTML');
  // Keyboard: the first Tab reaches the skip link, then the pages' links.
  await page.goto(`${base}/console#/jobs`, {waitUntil: 'load'});
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement?.tagName === 'A'), 'Tab reaches links');

  // 7. Newest first, and an image's jobs from ?image= (issues 16, 19): the failed job was
  // submitted last, after the form's job, both on the form's first image.
  await go('#/jobs');
  await page.waitForSelector(`#job-rows tr[data-job-id="${jobId}"]`, kWait);
  const listed = await page.$$eval('#job-rows tr[data-job-id]', (rows) =>
    rows.map((r) => r.dataset.jobId));
  check(listed[0] === failedId && listed.indexOf(failedId) < listed.indexOf(jobId),
      `the Jobs list is newest first: ${listed.slice(0, 3)}`);
  await go(`#/job/${failedId}`);
  await page.waitForSelector('#job a[href^="#/image/"], #job-images a[href^="#/image/"]', kWait);
  await page.click('#job a[href^="#/image/"], #job-images a[href^="#/image/"]');
  await page.waitForSelector(`#image-jobs figure[data-job-id="${failedId}"]`, kWait);
  const ofImage = await page.$$eval('#image-jobs figure[data-job-id]', (all) =>
    all.map((f) => f.dataset.jobId));
  check(ofImage.indexOf(failedId) === 0 && ofImage.includes(jobId),
      `the image's page lists its jobs, newest first: ${ofImage}`);

  // 8. The Queue page (GET /v1/queue): the workers that ran the jobs above, the lag per partition,
  //    the rate and the failure of 5 by its reason, read again every few seconds; and a job's
  //    page shows its trace id.
  await go(`#/job/${failedId}`);
  await page.waitForSelector('#job-trace', kWait);
  const trace = await text('#job-trace');
  check(/^[0-9a-f]{32}$/.test(trace), `the job page shows its trace id: ${trace}`);
  await go('#/queue');
  await page.waitForFunction(() => document.querySelector('#queue-workers tr[data-worker]') &&
      document.querySelector('#queue-failures tr[data-reason="InvalidCrop"]'), kWait);
  const partitions = await page.$$eval('#queue-partitions tr[data-partition]', (rows) => rows.length);
  check(partitions > 0, `the Queue page shows the lag of ${partitions} partitions`);
  check((await text('#queue-rate')).includes('jobs per second'), 'the Queue page shows the rate');
  check(await page.$eval('nav a[href="#/queue"]', (a) => a.getAttribute('aria-current')) === 'page',
      'the Queue page is marked in the navigation');
  const updated = await text('#queue-status');
  await page.waitForFunction((before) =>
    document.querySelector('#queue-status')?.textContent !== before, kWait, updated);
  check(true, 'the Queue page reads itself again without a reload');
  await page.screenshot({path: join(shots, 'console-queue.png'), type: 'png', fullPage: true});
} catch (error) {
  failed = true;
  console.log(`FAIL ${error.stack || error}`);
} finally {
  // Closed, not left: Chromium then ends and writes out the net log console_test.cc reads.
  await browser.close();
}
for (const problem of problems) console.log(`FAIL ${problem}`);
process.exit(failed || problems.length > 0 ? 1 : 0);
