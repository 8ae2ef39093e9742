"""Browser-side layout checks shared by the layout tests and the screenshot script (no tests here)."""

from __future__ import annotations

# Elements whose right edge passes the viewport (or whose page is wider than the viewport), ignoring those clipped
# by an ancestor that scrolls sideways or hides overflow and itself fits: what a reader would have to pan to see.
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > vw + 1) out.push('page scrollWidth ' +
      document.documentElement.scrollWidth + ' > ' + vw);
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox === 'auto' || ox === 'scroll' || ox === 'hidden' || ox === 'clip') return true;
    }
    return false;
  };
  document.querySelectorAll('body *').forEach((el) => {
    const st = getComputedStyle(el);
    if (st.display === 'none' || st.visibility === 'hidden' || st.position === 'fixed') return;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= 0) return;  // plotly's off-screen text measurer
    if ((r.right > vw + 1 || r.left < -1) && !clipped(el)) {
      out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' +
               String(el.className && el.className.baseVal !== undefined ? el.className.baseVal : el.className)
                 .slice(0, 60) + ' [' + Math.round(r.left) + ', ' + Math.round(r.right) + ']');
    }
  });
  return out.slice(0, 20);
}"""

# The smallest font size (px) of the text inside the visible heatmap cells.
HEATMAP_FONT_JS = """() => {
  const sizes = [];
  document.querySelectorAll('.js-plotly-plot g.heatmaplayer text, .js-plotly-plot .heatmaplayer text')
    .forEach((t) => {
      if (!t.textContent.trim()) return;
      const r = t.getBoundingClientRect();
      if (r.width === 0) return;
      sizes.push(parseFloat(getComputedStyle(t).fontSize));
    });
  return sizes.length ? Math.min(...sizes) : null;
}"""

# Widths (px) of the visible heatmap cells: the plot's x-axis length divided by the number of columns.
HEATMAP_CELL_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter((gd) =>
    gd.data && gd.data.some((t) => t.type === 'heatmap' && t.texttemplate) && gd.getBoundingClientRect().width > 0)
  .map((gd) => { const t = gd.data.find((d) => d.type === 'heatmap');
    return gd._fullLayout.xaxis._length / t.x.length; })"""
