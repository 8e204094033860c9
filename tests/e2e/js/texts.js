// Every string of the page a reader may see or hear (text, placeholders, labels, titles, the
// messages scripts show later), except what is marked as being in the other language with
// lang="…" (the argument: "zh" or "en").
(other) => {
  const out = [];
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE']);
  const inZh = (el) => {
    const owner = el && el.closest ? el.closest('[lang]') : null;
    return !!owner && owner !== document.documentElement &&
      owner.lang.toLowerCase().startsWith(other);
  };
  const where = (el) => {
    const parts = [];
    for (let node = el; node && node !== document.body && parts.length < 3; node = node.parentElement) {
      parts.unshift(node.tagName.toLowerCase() + (node.id ? '#' + node.id : '') +
        (node.className && typeof node.className === 'string' ? '.' + node.className.trim().split(/\s+/).slice(0, 2).join('.') : ''));
    }
    return parts.join(' > ');
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || skip.has(parent.tagName) || parent.closest('noscript')) continue;
    const text = node.textContent.replace(/\s+/g, ' ').trim();
    if (text && !inZh(parent)) out.push({text: text, where: where(parent)});
  }
  const attributes = ['placeholder', 'aria-label', 'title', 'alt', 'data-confirm',
    'data-copied-label', 'data-label'];
  for (const el of document.body.querySelectorAll('*')) {
    if (inZh(el)) continue;
    for (const attr of el.getAttributeNames()) {
      if (attributes.includes(attr) || attr.startsWith('data-msg-') ||
          (attr === 'value' && el.matches('input[type=submit], input[type=button]'))) {
        out.push({text: el.getAttribute(attr), where: where(el) + '@' + attr});
      }
    }
  }
  out.push({text: document.title, where: 'title'});
  return out;
}
