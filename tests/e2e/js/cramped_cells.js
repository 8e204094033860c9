// Table cells of the page's content whose text is broken into lines of fewer than `minChars`
// characters (a table squeezed onto a narrow screen), each with its text, lines and width.
// Only text one can see counts: words only for screen readers are not lines of a cell.
// Evaluated by tests/e2e/pages.py.
(minChars) => {
  const cramped = [];
  for (const cell of document.querySelectorAll('main td, main th')) {
    if (!cell.offsetParent) continue;  // not shown
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const tops = new Set();
    let chars = 0;
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      const words = text.textContent.replace(/\s+/g, '');
      if (!words || text.parentElement.closest('.visually-hidden')) continue;
      const range = document.createRange();
      range.selectNodeContents(text);
      const rects = Array.from(range.getClientRects()).filter((r) => r.width > 1 && r.height > 1);
      if (!rects.length) continue;
      chars += words.length;
      for (const rect of rects) tops.add(Math.round(rect.top));
    }
    const lines = tops.size;
    // Lines of separate elements (a badge above a date) count as lines too: only a cell
    // whose lines hold fewer characters than minChars on average is cramped.
    if (lines > 1 && chars >= 4 && chars / lines < minChars) {
      cramped.push({text: cell.innerText.trim().slice(0, 40), lines: lines,
                    width: Math.round(cell.getBoundingClientRect().width)});
    }
  }
  return cramped;
}
