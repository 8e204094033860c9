// The accessibility basics of the page: its h1s, unlabelled form controls, nameless buttons
// and links, duplicate ids, language and title. Evaluated by tests/e2e/pages.py.
() => {
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
    return ids.length > 0 && ids.every((id) => {
      const target = document.getElementById(id);
      return target && target.textContent.trim();
    });
  };
  const describe = (el) => el.outerHTML.replace(/\s+/g, ' ').slice(0, 160);
  const unlabelled = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
    const labels = Array.from(el.labels || []).filter((l) => l.textContent.trim());
    if (labels.length || named(el)) continue;
    unlabelled.push(describe(el));
  }
  const nameless = [];
  for (const el of document.querySelectorAll('button, a[href], [role=button], input[type=submit], input[type=button]')) {
    const text = (el.textContent || el.value || '').trim() || el.getAttribute('title');
    if (!text && !named(el) && !el.querySelector('img[alt]:not([alt=""]), svg[aria-label]')) {
      nameless.push(describe(el));
    }
  }
  const ids = {};
  for (const el of document.querySelectorAll('[id]')) ids[el.id] = (ids[el.id] || 0) + 1;
  return {
    h1: Array.from(document.querySelectorAll('h1')).map((h) => h.textContent.trim()),
    unlabelled: unlabelled,
    nameless: nameless,
    duplicateIds: Object.keys(ids).filter((id) => ids[id] > 1),
    lang: document.documentElement.lang,
    // Wider than the screen: the whole page would scroll sideways (tables scroll in their box).
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    title: document.title,
  };
}
