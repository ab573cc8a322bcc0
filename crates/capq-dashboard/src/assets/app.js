// capq dashboard: confirmations for actions, and live updates.
//
// Pages are rendered on the server. Every couple of seconds this script fetches the page it is
// on again and swaps in the regions marked `data-live`, so there is one renderer (and one place
// where job strings are escaped). What the user set inside a region survives a swap: ticked
// boxes, opened details. Swaps wait while a pointer is down, so a click never lands on a row
// that moved under it. Without this script every page still works: forms post, and the server
// asks for confirmation on a page of its own.
'use strict';
(() => {
  const INTERVAL_MS = 2000;
  const status = document.getElementById('live-status');
  const toggle = document.getElementById('live-toggle');
  let paused = localStorage.getItem('capq-live-paused') === '1';
  let pointerDown = false;
  let running = false;

  // Confirmation before any action. The message may come from the button (forms with several
  // buttons) or the form; `{n}` becomes the number of ticked jobs for bulk forms.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const button = event.submitter;
    let message = (button && button.dataset.confirm) || form.dataset.confirm;
    if (!message) return;
    if (form.dataset.selection !== undefined) {
      const picked = document.querySelectorAll(
        'input[type="checkbox"][form="' + form.id + '"]:checked').length;
      if (picked === 0) {
        event.preventDefault();
        window.alert('Tick at least one job first.');
        return;
      }
      message = message.replace('{n}', String(picked));
    }
    if (!window.confirm(message)) {
      event.preventDefault();
      return;
    }
    const confirmed = form.querySelector('input[name="confirmed"]');
    if (confirmed) confirmed.value = '1';
    // Stop refreshing (without remembering it): the page is about to be left.
    paused = true;
  });

  // "Tick all" boxes tick the boxes of their form.
  document.addEventListener('change', (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll) return;
    document.querySelectorAll('input[type="checkbox"][form="' + box.dataset.selectAll + '"]')
      .forEach((other) => { other.checked = box.checked; });
  });

  // Error pages (503) reload themselves once the server answers again.
  const retry = document.body && document.body.dataset.retry;
  if (retry) {
    const again = async () => {
      try {
        const response = await fetch(location.href, { cache: 'no-store', credentials: 'same-origin' });
        if (response.ok) { location.reload(); return; }
      } catch (_) { /* still down */ }
      setTimeout(again, Number(retry) * 1000);
    };
    setTimeout(again, Number(retry) * 1000);
  }

  const say = (text, state) => {
    if (!status) return;
    status.textContent = text;
    status.dataset.state = state;
  };
  const showPaused = () => {
    if (toggle) toggle.textContent = paused ? 'Resume updates' : 'Pause updates';
    if (paused) say('paused', 'paused');
  };

  document.addEventListener('pointerdown', () => { pointerDown = true; });
  document.addEventListener('pointerup', () => { setTimeout(() => { pointerDown = false; }, 250); });
  document.addEventListener('pointercancel', () => { pointerDown = false; });

  const swap = (region, fresh) => {
    const ticked = new Set(Array.from(region.querySelectorAll('input[type="checkbox"]:checked'),
      (box) => box.name + '=' + box.value));
    const open = new Set(Array.from(region.querySelectorAll('details[open][id]'), (d) => d.id));
    region.replaceChildren(...Array.from(fresh.childNodes));
    region.querySelectorAll('input[type="checkbox"]').forEach((box) => {
      if (ticked.has(box.name + '=' + box.value)) box.checked = true;
    });
    region.querySelectorAll('details[id]').forEach((d) => { if (open.has(d.id)) d.open = true; });
  };

  const refresh = async () => {
    const regions = document.querySelectorAll('[data-live]');
    if (paused || document.hidden || regions.length === 0 || running) return;
    running = true;
    try {
      let response;
      try {
        response = await fetch(location.href, {
          headers: { 'x-capq-live': '1' }, cache: 'no-store', credentials: 'same-origin',
        });
      } catch (_) {
        say('dashboard unreachable — retrying', 'error');
        return;
      }
      if (response.status === 401) { location.reload(); return; }
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
      if (!response.ok) {
        const message = doc.getElementById('error-message');
        say((message ? message.textContent : 'HTTP ' + response.status) + ' — retrying', 'error');
        return;
      }
      if (pointerDown) return;
      regions.forEach((region) => {
        const fresh = doc.getElementById(region.id);
        // A region with a version (a batch's report) is swapped only when it changed, so what
        // the reader opened or scrolled to stays put.
        if (fresh && !(fresh.dataset.version && fresh.dataset.version === region.dataset.version)) {
          swap(region, fresh);
          if (fresh.dataset.version) region.dataset.version = fresh.dataset.version;
        }
      });
      if (doc.title) document.title = doc.title;
      say('live · ' + new Date().toLocaleTimeString(), 'ok');
    } finally {
      running = false;
    }
  };

  if (status && document.querySelector('[data-live]')) {
    showPaused();
    if (!paused) say('live', 'ok');
    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener('click', () => {
        paused = !paused;
        localStorage.setItem('capq-live-paused', paused ? '1' : '0');
        showPaused();
        if (!paused) refresh();
      });
    }
    document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
    const loop = async () => {
      await refresh();
      setTimeout(loop, INTERVAL_MS);
    };
    setTimeout(loop, INTERVAL_MS);
  }
})();
