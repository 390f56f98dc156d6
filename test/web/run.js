// Browser tests of Tungsten's web UI: headless Chromium driven by
// playwright-core against a Tungsten that scripts/test-web.sh started.
//
//   node run.js BASE_URL ARTIFACT_DIR
//
// Prints one line per test and a summary "web: N passed, M failed"; exits 1
// when anything failed.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const BASE = process.argv[2];
const ART = process.argv[3];
if (!BASE || !ART) {
  console.error('usage: node run.js BASE_URL ARTIFACT_DIR');
  process.exit(2);
}
fs.mkdirSync(ART, { recursive: true });

const run = Date.now().toString(36);
const XSS = `<script>alert('xss')</script><img src=x onerror=alert('xss')>`;
const results = [];
let browser;
const dialogs = [];

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name} (${Date.now() - started} ms): ${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}`);
  }
}

// newUser opens a fresh browser context (its own cookies) with a page that
// records any dialog: an alert would mean injected script ran.
async function newUser(options = {}) {
  // English unless a test asks otherwise: the UI follows Accept-Language.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.on('dialog', async (d) => {
    dialogs.push(`${d.type()}: ${d.message()} on ${page.url()}`);
    await d.dismiss().catch(() => {});
  });
  return { context, page };
}

async function go(page, p) {
  const resp = await page.goto(BASE + p);
  return resp.status();
}

async function signUp(page, name) {
  await go(page, '/register');
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Email').fill(`${name}@example.com`);
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.waitForURL(BASE + '/');
  assert(await page.locator('.menu a.me').textContent() === name, 'signed in as ' + name);
}

async function shoot(page, name) {
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: width === 375 ? 812 : 900 });
    await page.screenshot({ path: path.join(ART, `${name}-${width}.png`), fullPage: true });
    if (width === 375) {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 0, `${name}: ${overflow}px of horizontal scroll at 375 px`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

// inert checks that the page holds no script but our own and no event
// handler or javascript: URL anywhere in the DOM.
async function inert(page) {
  const bad = await page.evaluate(() => {
    const out = [];
    let dataBlocks = 0;
    for (const s of document.querySelectorAll('script')) {
      // The article's JSON-LD is a data block, never run: allowed once, when it is
      // whole JSON (a payload that broke out of it would leave it unparsable or
      // add an element of its own).
      if (!s.src && s.type === 'application/ld+json') {
        dataBlocks++;
        try { JSON.parse(s.textContent); } catch (e) { out.push('JSON-LD that is not JSON: ' + s.outerHTML.slice(0, 80)); }
        continue;
      }
      if (!s.src || new URL(s.src).pathname !== '/static/app.js') out.push('script element: ' + s.outerHTML.slice(0, 80));
    }
    if (dataBlocks > 1) out.push(dataBlocks + ' JSON-LD blocks');
    for (const el of document.querySelectorAll('*')) {
      for (const a of el.attributes) {
        if (/^on/i.test(a.name)) out.push(`${el.tagName} has ${a.name}`);
        if (/^\s*javascript:/i.test(a.value)) out.push(`${el.tagName} ${a.name}=${a.value}`);
      }
    }
    return out;
  });
  assert(bad.length === 0, 'injected content on ' + page.url() + ': ' + bad.join('; '));
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // playwright-core gives every launch a fresh, temporary user-data-dir.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
  const authorName = `author${run}`;
  const readerName = `reader${run}`;
  const tag = `tag${run}`;
  const word = `zephyr${run}`;
  const title = `Markdown notes ${run}`;
  const author = await newUser();
  const reader = await newUser();
  const a = author.page;
  const r = reader.page;
  let slug = '';

  await test('visitor pages render (home, sign in, sign up, 404)', async () => {
    assert(await go(a, '/') === 200, 'home 200');
    await shoot(a, 'home-signed-out');
    assert(await go(a, '/login') === 200, 'login 200');
    await shoot(a, 'sign-in');
    assert(await go(a, '/register') === 200, 'register 200');
    await shoot(a, 'sign-up');
    assert(await go(a, `/no-such-page-${run}`) === 404, '404');
    assert((await a.locator('h1').textContent()).includes('Page not found'), 'friendly 404');
    await shoot(a, 'not-found');
  });

  await test('sign up, with validation errors next to the fields', async () => {
    await go(a, '/register');
    await a.getByLabel('Username').fill(authorName);
    await a.getByRole('button', { name: 'Sign up' }).click();
    assert(await a.locator('#email-err .field-error').count() > 0, 'email error shown next to the field');
    assert(await a.getByLabel('Username').inputValue() === authorName, 'input kept');
    await shoot(a, 'sign-up-errors');
    await signUp(a, authorName);
  });

  await test('write a Markdown article with tags and a category', async () => {
    await a.getByRole('link', { name: 'Write' }).click();
    await shoot(a, 'editor-new');
    await a.getByLabel('Title').fill(title);
    await a.getByLabel('What is it about?').fill('A short description');
    await a.getByLabel('Article (Markdown)').fill(`## Section\n\nThis is **bold** and ${word}.\n\n- one\n- two\n\n[a link](https://example.com)`);
    await a.getByLabel('Tags').fill(`${tag}, markdown`);
    await a.getByLabel('Category').selectOption('science');
    await a.getByRole('button', { name: 'Publish article' }).click();
    await a.waitForURL(/\/article\//);
    slug = decodeURIComponent(new URL(a.url()).pathname.replace('/article/', ''));
    assert(await a.locator('h1').textContent() === title, 'title shown');
    assert(await a.locator('.prose h2').textContent() === 'Section', 'Markdown heading rendered');
    assert(await a.locator('.prose strong').textContent() === 'bold', 'Markdown bold rendered');
    assert(await a.locator('.post-head .cat-science').count() === 1, 'category badge');
    const bg = await a.locator('.post-head .cat-science').evaluate((el) => getComputedStyle(el).backgroundColor);
    assert(bg === 'rgb(109, 40, 217)', 'category colour applied, got ' + bg);
    await shoot(a, 'article-author');
  });

  await test('the article shows on home, under its tag and category, and in search', async () => {
    await go(a, '/');
    assert(await a.getByRole('link', { name: title }).count() === 1, 'on home');
    await a.locator('.side').getByRole('link', { name: '#' + tag }).click();
    await a.waitForURL(/tag=/);
    assert(await a.getByRole('link', { name: title }).count() === 1, 'under its tag');
    await shoot(a, 'home-tag');
    await a.locator('.side').getByRole('link', { name: 'Science' }).click();
    await a.waitForURL(/category=science/);
    assert(await a.getByRole('link', { name: title }).count() === 1, 'under its category');
    await shoot(a, 'home-category');
    await a.getByLabel('Search articles').fill(word);
    await a.getByLabel('Search articles').press('Enter');
    await a.waitForURL(/\/search\?q=/);
    assert(await a.getByRole('link', { name: title }).count() === 1, 'in search');
    await shoot(a, 'search');
  });

  await test('a second user comments, favorites and follows', async () => {
    await signUp(r, readerName);
    await go(r, '/article/' + encodeURIComponent(slug));
    await r.getByLabel('Your comment').fill('Great read, thanks!');
    await r.getByRole('button', { name: 'Post comment' }).click();
    await r.locator('.comment-body', { hasText: 'Great read, thanks!' }).waitFor();
    await r.getByRole('button', { name: /Favorite \(0\)/ }).click();
    await r.getByRole('button', { name: /Unfavorite \(1\)/ }).waitFor();
    await r.getByRole('button', { name: 'Follow ' + authorName }).click();
    await r.getByRole('button', { name: 'Unfollow ' + authorName }).waitFor({ timeout: 10000 }).catch(async () => {
      await r.reload(); // the follow reaches the blog through an event
      await r.getByRole('button', { name: 'Unfollow ' + authorName }).waitFor({ timeout: 10000 });
    });
    await shoot(r, 'article-reader');
  });

  await test('a Korean browser gets Korean pages; the switcher (no JavaScript) picks English for good', async () => {
    // Chromium with Korean as its language, and JavaScript off: the switcher is a plain form.
    const ko = await newUser({ locale: 'ko-KR', javaScriptEnabled: false });
    const k = ko.page;
    const articlePath = '/article/' + encodeURIComponent(slug);
    try {
      assert(await go(k, '/') === 200, 'home 200');
      assert(await k.getAttribute('html', 'lang') === 'ko', 'home in Korean: lang=ko');
      assert(await k.locator('.menu').getByRole('link', { name: '로그인' }).count() === 1, 'Korean menu');
      assert(await k.getByRole('link', { name: '전체 피드' }).count() === 1, 'Korean feed tab');
      assert(await k.locator('.side').getByRole('link', { name: '과학' }).count() === 1, 'Korean category names');
      assert(/\d{4}년 \d{1,2}월 \d{1,2}일/.test(await k.locator('.card time').first().textContent()), 'Korean dates in the list');
      await shoot(k, 'home-ko');
      await go(k, articlePath);
      assert(await k.getAttribute('html', 'lang') === 'ko', 'article in Korean');
      assert(/^\d+분 읽기$/.test(await k.locator('.post-head .readtime').textContent()), 'Korean reading time');
      assert(/\d{4}년 \d{1,2}월 \d{1,2}일/.test(await k.locator('.post-head time').textContent()), 'Korean date');
      assert((await k.locator('#comments-h').textContent()).startsWith('댓글'), 'Korean comments heading');
      await shoot(k, 'article-ko');

      await k.locator('form.lang').getByRole('button', { name: 'English' }).click();
      await k.waitForURL(BASE + articlePath);
      assert(await k.getAttribute('html', 'lang') === 'en', 'switched to English');
      assert(/^\d+ min read$/.test(await k.locator('.post-head .readtime').textContent()), 'English reading time');
      assert(/^[A-Z][a-z]+ \d{1,2}, \d{4}$/.test(await k.locator('.post-head time').textContent()), 'English date');
      await shoot(k, 'article-en');
      const lang = (await ko.context.cookies()).find((c) => c.name === 'tungsten_lang');
      assert(lang && lang.value === 'en' && lang.sameSite === 'Lax' && lang.httpOnly, 'choice kept in a Lax, HttpOnly cookie');
      for (const p of ['/', '/login', '/register', '/search?q=' + encodeURIComponent(word)]) {
        await go(k, p);
        assert(await k.getAttribute('html', 'lang') === 'en', 'still English on ' + p);
      }
      await go(k, '/');
      assert(await k.getByRole('link', { name: 'Global feed' }).count() === 1, 'English home after the switch');
      await shoot(k, 'home-en');

      await k.locator('form.lang').getByRole('button', { name: '한국어' }).click();
      await k.waitForURL(BASE + '/');
      assert(await k.getAttribute('html', 'lang') === 'ko', 'and back to Korean');
      await go(k, '/login');
      assert(await k.getByRole('heading', { name: '로그인' }).count() === 1, 'Korean sign-in page after switching back');
      await shoot(k, 'sign-in-ko');
    } finally {
      await ko.context.close();
    }
  });

  await test("the article appears in the follower's feed", async () => {
    const deadline = Date.now() + 15000;
    for (;;) {
      await go(r, '/?feed=your');
      if (await r.getByRole('link', { name: title }).count() === 1) break;
      assert(Date.now() < deadline, 'not in the feed after 15 s');
      await r.waitForTimeout(250);
    }
    await shoot(r, 'home-your-feed');
    await go(r, `/profile/${readerName}?tab=favorites`);
    assert(await r.getByRole('link', { name: title }).count() === 1, "in the reader's favorites");
    await shoot(r, 'profile-favorites');
  });

  await test('the reader deletes a comment of theirs', async () => {
    await go(r, '/article/' + encodeURIComponent(slug));
    await r.getByLabel('Your comment').fill('To be deleted');
    await r.getByRole('button', { name: 'Post comment' }).click();
    const c = r.locator('.comment', { hasText: 'To be deleted' });
    await c.waitFor();
    await c.getByRole('button', { name: 'Delete comment' }).click();
    await c.waitFor({ state: 'detached' });
    await r.reload();
    assert(await r.locator('.comment', { hasText: 'To be deleted' }).count() === 0, 'comment deleted');
  });

  await test('settings and profile pages', async () => {
    await go(a, '/settings');
    await shoot(a, 'settings');
    await a.getByLabel('Short bio').fill('I write about Markdown.');
    await a.getByRole('button', { name: 'Update settings' }).click();
    await a.waitForURL(/\/profile\//);
    assert((await a.locator('.bio').textContent()).includes('I write about Markdown.'), 'bio saved');
    await shoot(a, 'profile');
  });

  await test('XSS payloads in title, body, bio and comment render inert', async () => {
    await go(a, '/editor');
    await a.getByLabel('Title').fill(`XSS ${run} ${XSS}`);
    await a.getByLabel('What is it about?').fill(`desc ${XSS}`);
    await a.getByLabel('Article (Markdown)').fill(`${XSS}\n\n[click me](javascript:alert('xss'))\n\n<a href="javascript:alert(1)">raw</a>\n\n<svg onload=alert(1)></svg>`);
    await a.getByLabel('Tags').fill('xss');
    await a.getByRole('button', { name: 'Publish article' }).click();
    await a.waitForURL(/\/article\//);
    const xssPath = new URL(a.url()).pathname;
    await go(a, '/settings');
    await a.getByLabel('Short bio').fill(`bio ${XSS}`);
    await a.getByRole('button', { name: 'Update settings' }).click();
    await a.waitForURL(/\/profile\//);
    await go(r, xssPath);
    await r.getByLabel('Your comment').fill(`comment ${XSS} <a href="javascript:alert(1)">x</a>`);
    await r.getByRole('button', { name: 'Post comment' }).click();
    await r.locator('.comment-body', { hasText: 'comment <script>' }).waitFor();
    for (const p of [xssPath, '/', `/profile/${authorName}`, `/search?q=XSS+${run}`, '/?tag=xss']) {
      await go(r, p);
      await inert(r);
    }
    await go(r, xssPath);
    assert((await r.locator('h1').textContent()).includes("<script>alert('xss')</script>"), 'title shown as text');
    assert((await r.locator('.comment-body').last().textContent()).includes('<img src=x'), 'comment shown as text');
    await shoot(r, 'article-xss');
    await r.waitForTimeout(300);
    assert(dialogs.length === 0, 'dialogs fired: ' + dialogs.join('; '));
  });

  await test('a form POST without the CSRF token is rejected', async () => {
    await go(r, '/article/' + encodeURIComponent(slug));
    // A real form submission, like one from another site, minus the token.
    await r.evaluate((s) => {
      const f = document.createElement('form');
      f.method = 'post';
      f.action = '/article/' + encodeURIComponent(s) + '/comments';
      const t = document.createElement('textarea');
      t.name = 'body';
      t.value = 'forged comment';
      f.appendChild(t);
      document.body.appendChild(f);
      f.submit();
    }, slug);
    await r.waitForLoadState();
    assert((await r.locator('h1').textContent()).includes('This form has expired'), 'friendly 403 page');
    await shoot(r, 'csrf-rejected');
    const resp = await reader.context.request.post(BASE + '/article/' + encodeURIComponent(slug) + '/comments', { form: { body: 'forged again' }, maxRedirects: 0 });
    assert(resp.status() === 403, 'API-style POST without token: ' + resp.status());
    await go(r, '/article/' + encodeURIComponent(slug));
    assert(await r.locator('.comment-body', { hasText: 'forged' }).count() === 0, 'no forged comment');
  });

  await test('the author edits the article: the slug changes and the old link 404s', async () => {
    await go(a, '/article/' + encodeURIComponent(slug));
    await a.getByRole('link', { name: 'Edit article' }).click();
    await shoot(a, 'editor-edit');
    await a.getByLabel('Title').fill(`Edited notes ${run}`);
    await a.getByRole('button', { name: 'Update article' }).click();
    await a.waitForURL(/\/article\//);
    const newSlug = decodeURIComponent(new URL(a.url()).pathname.replace('/article/', ''));
    assert(newSlug !== slug, 'slug changed');
    assert(await go(a, '/article/' + encodeURIComponent(slug)) === 404, 'old link 404s');
    slug = newSlug;
  });

  await test('the author deletes the article', async () => {
    await go(a, '/article/' + encodeURIComponent(slug));
    await a.getByRole('button', { name: 'Delete article' }).click();
    await a.waitForURL(/\/profile\//);
    assert(await go(a, '/article/' + encodeURIComponent(slug)) === 404, 'deleted article 404s');
    await go(a, '/');
    assert(await a.getByRole('link', { name: `Edited notes ${run}` }).count() === 0, 'gone from home');
  });

  await test('drafts: preview in the editor, save a draft, find it in my drafts, share its preview link, publish it', async () => {
    const draftTitle = `Draft notes ${run}`;
    const dword = `quokka${run}`;
    await go(a, '/editor');
    await a.getByLabel('Title').fill(draftTitle);
    await a.getByLabel('What is it about?').fill('Not ready yet');
    await a.getByLabel('Article (Markdown)').fill(`## Draft section\n\nAll about the **${dword}**.`);
    await a.getByRole('button', { name: 'Preview' }).click();
    await a.locator('.editor-preview .prose h2').waitFor();
    assert(await a.locator('.editor-preview .prose h2').textContent() === 'Draft section', 'Markdown preview rendered by the server');
    assert(await a.locator('.editor-preview .prose strong').textContent() === dword, 'preview bold');
    assert(await a.getByLabel('Title').inputValue() === draftTitle, 'the form keeps what was typed');
    await shoot(a, 'editor-preview');
    await a.getByRole('button', { name: 'Save draft' }).click();
    await a.waitForURL(/\/article\//);
    const draftPath = new URL(a.url()).pathname;
    assert(await a.locator('.post-head .badge-draft').count() === 1, 'Draft badge on the article');
    assert(await a.locator('meta[name="robots"][content="noindex"]').count() === 1, 'draft page is noindex');
    const link = new URL(await a.getByLabel('Private preview link').inputValue());
    await shoot(a, 'article-draft');
    await go(a, `/profile/${authorName}?tab=drafts`);
    assert(await a.getByRole('link', { name: draftTitle }).count() === 1, 'in my drafts');
    assert(await a.locator('.card .badge-draft').count() >= 1, 'Draft badge in the list');
    await shoot(a, 'profile-drafts');
    await go(a, '/');
    assert(await a.getByRole('link', { name: draftTitle }).count() === 0, 'not on home, even for its author');

    assert(await go(r, draftPath) === 404, 'another user gets 404 on the draft');
    await go(r, '/search?q=' + dword);
    assert(await r.getByRole('link', { name: draftTitle }).count() === 0, 'not in search');
    await go(r, link.pathname);
    assert(await r.locator('h1').textContent() === draftTitle, 'the preview link shows the draft');
    assert(await r.locator('.post-head .badge-draft').count() === 1, 'marked as a draft');
    assert(await r.locator('meta[name="robots"][content="noindex"]').count() === 1, 'preview is noindex');
    assert(await r.locator('#comments').count() === 0, 'a preview takes no comments');
    await inert(r);
    await shoot(r, 'preview-link');
    const ko = await newUser({ locale: 'ko-KR', javaScriptEnabled: false });
    try {
      await go(ko.page, link.pathname);
      assert(await ko.page.locator('.post-head .badge-draft').textContent() === '초안', 'Korean Draft badge');
      await shoot(ko.page, 'preview-link-ko');
    } finally {
      await ko.context.close();
    }

    await go(a, draftPath);
    await a.getByRole('link', { name: 'Edit article' }).click();
    await a.getByRole('button', { name: 'Publish article' }).click();
    await a.waitForURL(BASE + draftPath);
    assert(await a.locator('.post-head .badge-draft').count() === 0, 'no badge once published');
    await go(a, '/');
    assert(await a.getByRole('link', { name: draftTitle }).count() === 1, 'published: on home');
    const deadline = Date.now() + 10000;
    for (;;) { // another user's reads may be cached up to --blog.cache-staleness
      await go(r, '/');
      if (await r.getByRole('link', { name: draftTitle }).count() === 1) break;
      assert(Date.now() < deadline, 'not on the reader\'s home after 10 s');
      await r.waitForTimeout(250);
    }
    await shoot(r, 'home-published-draft');
    assert(await go(r, link.pathname) === 404, 'the preview link dies when the draft is published');
  });

  await test('pages are keyboard usable (skip link, focusable controls)', async () => {
    await go(a, '/');
    await a.keyboard.press('Tab');
    assert(await a.evaluate(() => document.activeElement.className) === 'skip', 'first Tab reaches the skip link');
    const unlabelled = await a.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]),textarea,select')]
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).length);
    assert(unlabelled === 0, unlabelled + ' unlabelled inputs');
  });

  await test('signing out really ends the session', async () => {
    await go(a, '/settings');
    await a.getByRole('button', { name: 'Sign out' }).click();
    await a.waitForURL(BASE + '/');
    const cookies = await author.context.cookies();
    assert(!cookies.some((c) => c.name === 'tungsten_session'), 'session cookie removed');
    await go(a, '/settings');
    assert(a.url().startsWith(BASE + '/login'), 'settings now asks to sign in: ' + a.url());
    assert(await a.locator('.menu a.me').count() === 0, 'signed out');
    const session = (await reader.context.cookies()).find((c) => c.name === 'tungsten_session');
    assert(session && session.httpOnly && session.sameSite === 'Lax', 'session cookie is HttpOnly and SameSite=Lax');
    assert(await r.evaluate(() => document.cookie.includes('tungsten_session')) === false, 'token invisible to JavaScript');
  });

  await browser.close();
}

const timer = setTimeout(() => {
  console.log('FAIL the browser tests did not finish in time');
  process.exit(1);
}, Number(process.env.WEB_TEST_TIMEOUT_MS || 240000));

main().catch((err) => {
  results.push({ name: 'setup', ok: false });
  console.log('FAIL ' + (err && err.stack ? err.stack : err));
}).finally(async () => {
  clearTimeout(timer);
  if (browser) await browser.close().catch(() => {});
  const passed = results.filter((x) => x.ok).length;
  const failed = results.length - passed;
  console.log(`web: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
});
