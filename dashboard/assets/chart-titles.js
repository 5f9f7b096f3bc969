/* Chart titles that fit their chart (phone widths).
 *
 * Plotly never wraps a title: on a phone "东城区 · 2016 年逐月 PM2.5 平均浓度" ran off the
 * chart's right edge and was cut. After each render of a chart this script
 *  - wraps a title wider than its chart onto several lines (first at the " · " between the
 *    title's parts, then between words or Chinese characters), pinned to the chart's top;
 *  - grows the top margin until the title clears the plot area and a legend drawn above
 *    the plot (which on a phone can take several rows).
 * A title that fits (every desktop chart) is left exactly as the server sent it; when the
 * chart is widened again, the server's title and margin come back.
 */
(function () {
  "use strict";

  var CJK = /[\u2E80-\u9FFF\uF900-\uFAFF\uFF00-\uFFEF\u3000-\u303F]/;
  var TOKEN = /<[^>]*>|[\u2E80-\u9FFF\uF900-\uFAFF\uFF00-\uFFEF\u3000-\u303F]|[^\s<\u2E80-\u9FFF\uF900-\uFAFF\uFF00-\uFFEF\u3000-\u303F]+|\s+/g;
  var SEPARATOR = " · ";
  var GAP = 6;                       // px between the title and what lies under it
  var canvas = null;

  function titleOf(layout) {
    var t = layout && layout.title;
    if (!t) return "";
    return typeof t === "string" ? t : (t.text || "");
  }

  function textWidth(text, font) {
    canvas = canvas || document.createElement("canvas");
    var ctx = canvas.getContext("2d");
    ctx.font = (font.weight || "normal") + " " + font.size + "px " + font.family;
    return ctx.measureText(text.replace(/<[^>]*>/g, "")).width;
  }

  /* Greedy lines of at most `width` px: whole parts (split at " · ") where they fit, the
   * separator kept at the end of a line; a part wider than a line is cut between words
   * or Chinese characters. */
  function wrap(text, width, font) {
    var lines = [];
    text.split(/<br\s*\/?>/i).forEach(function (paragraph) {
      var line = "";
      paragraph.split(SEPARATOR).forEach(function (part, i, parts) {
        var piece = part + (i < parts.length - 1 ? " ·" : "");
        var joined = line ? line + " " + piece : piece;
        if (textWidth(joined, font) <= width) {
          line = joined;
          return;
        }
        if (line) lines.push(line);
        line = "";
        (piece.match(TOKEN) || []).forEach(function (token) {
          var next = line + token;
          if (line.trim() && !/^\s+$/.test(token) && textWidth(next, font) > width) {
            lines.push(line.replace(/\s+$/, ""));
            next = token;
          }
          line = next;
        });
      });
      if (line) lines.push(line.replace(/\s+$/, ""));
    });
    return lines;
  }

  function rect(el) {
    return el ? el.getBoundingClientRect() : null;
  }

  function overlaps(a, b) {
    return a && b && a.width > 0 && b.width > 0 && a.left < b.right && b.left < a.right &&
      a.top < b.bottom && b.top < a.bottom;
  }

  /* px the top margin must grow so that the title clears the plot and an upper legend */
  function shortfall(gd) {
    var title = rect(gd.querySelector(".g-gtitle"));
    if (!title || !title.height) return 0;
    var box = gd.getBoundingClientRect();
    var size = gd._fullLayout._size;
    var need = Math.max(0, title.bottom + GAP - (box.top + size.t));
    var legend = rect(gd.querySelector(".legend"));
    if (overlaps(title, legend) && legend.top < box.top + size.t) {
      need = Math.max(need, title.bottom + GAP - legend.top);
    }
    return Math.ceil(need);
  }

  /* px of the title above the chart's top edge */
  function overTop(gd) {
    var title = rect(gd.querySelector(".g-gtitle"));
    if (!title || !title.height) return 0;
    return Math.max(0, Math.ceil(gd.getBoundingClientRect().top + 4 - title.top));
  }

  /* the element whose height the page set: dcc.Graph's own div around the plot */
  function box(gd) {
    return gd.closest(".dash-graph") || gd;
  }

  function clone(value) {
    return JSON.parse(JSON.stringify(value || {}));
  }

  function relayout(gd, update) {
    var state = gd._ltTitle;
    state.rounds = (state.rounds || 0) + 1;
    if (state.rounds > 8) return;                 // never loop
    gd._ltFitting = true;
    window.Plotly.relayout(gd, update).then(function () {
      gd._ltFitting = false;
      fit(gd);
    }, function () { gd._ltFitting = false; });
  }

  /* One step towards a title that fits, then again after the chart is redrawn. */
  function fit(gd) {
    var full = gd._fullLayout;
    if (!window.Plotly || !full || !gd.layout || gd._ltFitting) return;
    var current = titleOf(gd.layout);
    var state = gd._ltTitle;
    if (!state || current !== state.shown) {      // a figure from the server: remember it
      if (state && state.added && gd._ltHeight !== undefined) box(gd).style.height = gd._ltHeight;
      state = gd._ltTitle = {
        original: current, shown: current, marginT: full.margin.t, added: 0,
        title: clone(typeof gd.layout.title === "object" ? gd.layout.title : {}),
        width: full.width, changed: false, rounds: state ? state.rounds : 0
      };
    }
    if (!state.original || !full.width) return;
    if (gd._ltHeight === undefined) gd._ltHeight = box(gd).style.height;
    var update = {};
    if (state.changed && full.width !== state.width) {
      // another width: start again from the server's title, margin and height
      update.title = clone(state.title);
      update.title.text = state.original;
      update["margin.t"] = state.marginT;
      if (state.added) {
        update.height = full.height - state.added;
        box(gd).style.height = gd._ltHeight;
      }
      state.shown = state.original;
      state.added = 0;
      state.changed = false;
      state.width = full.width;
      relayout(gd, update);
      return;
    }
    state.width = full.width;
    var lines = wrap(state.original, full.width - 16, full.title.font);
    var text = lines.join("<br>");
    if (lines.length > 1 && text !== current) {
      update = {"title.text": text, "title.yref": "container", "title.y": 1,
                "title.yanchor": "top", "title.pad.t": 8};
      state.shown = text;
    } else {
      // a wrapped title is laid out around its middle line: bring its first line down
      // inside the chart, then make room under it (the chart grows, the plot keeps its
      // height)
      var above = lines.length > 1 ? overTop(gd) : 0;
      var grow = above ? 0 : shortfall(gd);
      if (above) {
        update["title.pad.t"] = (full.title.pad.t || 0) + above;
      } else if (grow) {
        // the title stays where it is (plotly would centre it in the larger margin)
        var title = rect(gd.querySelector(".g-gtitle"));
        var top = title ? Math.max(0, Math.round(title.top - gd.getBoundingClientRect().top))
          : 8;
        if (!(full.title.yref === "container" && full.title.y === 1 &&
              full.title.yanchor === "top")) {
          update["title.yref"] = "container";
          update["title.y"] = 1;
          update["title.yanchor"] = "top";
          update["title.pad.t"] = top;
        }
        update["margin.t"] = full.margin.t + grow;
        update.height = full.height + grow;
        box(gd).style.height = (box(gd).offsetHeight + grow) + "px";
        state.added += grow;
      } else {
        return;
      }
    }
    state.changed = true;
    relayout(gd, update);
  }

  function hook(gd) {
    if (gd._ltHooked || typeof gd.on !== "function") return;
    gd._ltHooked = true;
    gd.on("plotly_afterplot", function () {
      if (gd._ltTitle && !gd._ltFitting) gd._ltTitle.rounds = 0;
      window.requestAnimationFrame(function () { fit(gd); });
    });
    fit(gd);
  }

  window.ltWrapTitle = wrap;        // for tests/test_readability.py

  var pending = false;
  function scan() {
    pending = false;
    var graphs = document.querySelectorAll(".js-plotly-plot");
    for (var i = 0; i < graphs.length; i++) hook(graphs[i]);
  }

  new MutationObserver(function () {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(scan);
    }
  }).observe(document.documentElement, {childList: true, subtree: true, attributes: true,
                                         attributeFilter: ["class"]});
})();
