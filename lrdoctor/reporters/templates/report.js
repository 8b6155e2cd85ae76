/* The audit report's script: it unpacks the page's data, the index's rows and the runs'
   sections (gzip, base64) and puts them in place, then wires up the index (sort, filter,
   group, select), each run's charts (uPlot, drawn when scrolled to), the overlay of selected
   runs, smoothing and the y scale. The rows and sections are markup that html.py rendered
   with Jinja2's autoescaping, so every string from the logs in them is already escaped text;
   text from the logs this script writes itself goes only through textContent (uPlot's legend
   and title too), never as markup. */
(function () {
  'use strict';
  var data = null, runs = [];
  var FINDING = '#d84315';
  var NONFINITE = '#c62828';
  var ROLE_TITLES = {
    train_loss: 'train loss', val_loss: 'val loss', grad_norm: 'gradient norm', lr: 'learning rate'
  };
  var ROLE_COLOURS = {train_loss: '#546e7a', val_loss: '#1565c0', grad_norm: '#455a64', lr: '#455a64'};
  var PALETTE = ['#1565c0', '#c62828', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f', '#ad1457',
    '#5d4037', '#558b2f', '#283593'];
  var PANELS = [
    {roles: ['train_loss', 'val_loss'], title: 'loss', height: 250},
    {roles: ['grad_norm'], title: 'gradient norm', height: 170},
    {roles: ['lr'], title: 'learning rate', height: 170}
  ];
  var report = window.lrdoctorReport = {
    charts: {}, overlay: null, curves: null, data: null, smoothing: 0.6, scale: 'auto',
    smooth: smooth
  };
  var body = document.body;
  body.dataset.chartsDrawn = '0';

  // -- Packed blocks: gzip-compressed, base64-encoded text in the page, unpacked once ---------

  function inflate(id) {
    try {
      var binary = atob(document.getElementById(id).textContent.trim());
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
      return new Response(stream).text();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function unpackCurves(inflating) {
    return inflating.then(function (text) {
      return JSON.parse(text).map(function (packed) {
        if (!packed) return null;
        var curves = {};
        Object.keys(packed).forEach(function (role) {
          var c = packed[role], x = new Array(c.dx.length), step = 0, stretches = [];
          for (var i = 0; i < c.dx.length; i++) { step += c.dx[i]; x[i] = step; }
          (c.nonfinite || []).forEach(function (pair) {
            var last = stretches[stretches.length - 1];
            if (last && last.end === pair[0] - 1 && last.kind === pair[1]) last.end = pair[0];
            else stretches.push({start: pair[0], end: pair[0], kind: pair[1]});
          });
          curves[role] = {tag: c.tag, x: x, y: c.y, points: c.points, nonfinite: stretches.map(
            function (s) { return {start: x[s.start], end: x[s.end], kind: s.kind}; })};
        });
        return curves;
      });
    });
  }

  // -- TensorBoard's smoothing, exactly -----------------------------------------------------

  /* TensorBoard's scalar smoothing (its line chart's classic smoothing): an exponential moving
     average started at 0 and debiased by 1 - w^n, n counting the finite points so far;
     non-finite points pass through as they are and a constant series is left alone. */
  function smooth(values, weight) {
    weight = Math.max(0, Math.min(Number(weight) || 0, 1));
    var first = values.length ? values[0] : null;
    if (values.every(function (v) { return v == first; })) return values.slice();
    var last = 0, count = 0, out = new Array(values.length);
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v === null || !isFinite(v)) { out[i] = v; continue; }
      last = last * weight + (1 - weight) * v;
      count++;
      out[i] = last / (weight === 1 ? 1 : 1 - Math.pow(weight, count));
    }
    return out;
  }

  // -- Scales ---------------------------------------------------------------------------------

  function useLog(arrays) {
    if (report.scale !== 'auto') return report.scale === 'log';
    var low = Infinity, high = -Infinity;
    arrays.forEach(function (ys) {
      for (var i = 0; i < ys.length; i++) {
        var v = ys[i];
        if (v !== null && isFinite(v)) { if (v < low) low = v; if (v > high) high = v; }
      }
    });
    return low > 0 && high / low >= data.log_ratio;
  }

  /* A log axis is drawn as log10 values on a linear scale with 10^k labels: a diverged loss
     near the float limit (1e306 is real data) stays drawable. */
  function toLog(ys) {
    return ys.map(function (v) { return v !== null && v > 0 ? Math.log10(v) : null; });
  }

  function number(v) {
    if (v === null || v === undefined || isNaN(v)) return '-';
    if (v === 0) return '0';
    var a = Math.abs(v);
    return a >= 1e5 || a < 1e-3 ? v.toExponential(3).replace('e+', 'e') : String(+v.toPrecision(5));
  }

  function logSplits(u, axis, min, max) {
    var out = [], k;
    if (max - min >= 2) {
      var step = Math.max(1, Math.ceil((max - min) / 6));
      for (k = Math.ceil(min / step) * step; k <= max; k += step) out.push(k);
      return out;
    }
    for (k = Math.floor(min); k <= Math.ceil(max); k++) {
      [1, 2, 5].forEach(function (m) {
        var v = k + Math.log10(m);
        if (v >= min && v <= max) out.push(v);
      });
    }
    return out.length >= 2 ? out : [min, (min + max) / 2, max];
  }

  function linearValues(u, splits) {
    return splits.map(function (v) {
      var a = Math.abs(v);
      return a >= 1e5 || (a > 0 && a < 1e-3) ? v.toExponential(1).replace('e+', 'e')
        : String(+v.toPrecision(4));
    });
  }

  function logValues(u, splits) {
    return splits.map(function (s) {
      var v = Math.pow(10, s);
      return Math.abs(s) >= 4 && Number.isInteger(s) ? '1e' + s : String(+v.toPrecision(3));
    });
  }

  // -- Charts ---------------------------------------------------------------------------------

  function faded(colour) { return colour + '59'; }

  /* uPlot wants one x array: each curve keeps its own steps and join() aligns them; a NaN
     stays a gap (null), a step another curve logged is spanned (undefined). */
  function chartData(lines, log) {
    var tables = [], modes = [];
    lines.forEach(function (line) {
      var raw = log ? toLog(line.y) : line.y;
      var smoothed = smooth(line.y, report.smoothing);
      tables.push(line.smoothOnly ? [line.x, log ? toLog(smoothed) : smoothed]
        : [line.x, raw, log ? toLog(smoothed) : smoothed]);
      modes.push(line.smoothOnly ? [null, 2] : [null, 2, 2]);
    });
    return uPlot.join(tables, modes);
  }

  function drawMarks(u, marks, stretches, element) {
    var ctx = u.ctx, box = u.bbox, ratio = uPlot.pxRatio, drawn = 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.left, box.top, box.width, box.height);
    ctx.clip();
    ctx.font = (11 * ratio) + 'px system-ui,sans-serif';
    marks.forEach(function (m) {
      var x0 = u.valToPos(m.start, 'x', true), x1 = u.valToPos(m.end, 'x', true);
      if (m.kind === 'event') {
        ctx.strokeStyle = FINDING;
        ctx.lineWidth = 1.5 * ratio;
        ctx.setLineDash([5 * ratio, 4 * ratio]);
        ctx.beginPath();
        ctx.moveTo(x0, box.top);
        ctx.lineTo(x0, box.top + box.height);
        ctx.stroke();
        ctx.setLineDash([]);
      } else if (m.kind === 'window') {
        ctx.fillStyle = 'rgba(216,67,21,0.12)';
        ctx.fillRect(x0, box.top, Math.max(x1 - x0, ratio), box.height);
      } else {
        return;
      }
      ctx.fillStyle = FINDING;
      ctx.fillText(m.code, x0 + 3 * ratio, box.top + 12 * ratio);
      drawn++;
    });
    stretches.forEach(function (s) {
      var x0 = u.valToPos(s.start, 'x', true), x1 = u.valToPos(s.end, 'x', true);
      ctx.fillStyle = NONFINITE;
      ctx.fillRect(x0, box.top + box.height - 5 * ratio, Math.max(x1 - x0, 2 * ratio), 5 * ratio);
      ctx.fillText(s.kind, x0 + 2 * ratio, box.top + box.height - 8 * ratio);
    });
    ctx.restore();
    if (element) element.dataset.marks = String(drawn);
  }

  /* One uPlot chart of `lines` ({label, x, y, colour, smoothOnly}) in `element`. */
  function makeChart(element, spec) {
    var arrays = spec.lines.map(function (line) { return line.y; });
    var log = useLog(arrays);
    var series = [{label: 'step'}];
    spec.lines.forEach(function (line) {
      var value = function (u, v, seriesIndex, dataIndex) {
        if (v == null && dataIndex != null) {
          var step = u.data[0][dataIndex];
          var stretch = (line.nonfinite || []).find(function (s) {
            return step >= s.start && step <= s.end;
          });
          if (stretch) return stretch.kind;
        }
        return number(log && v != null ? Math.pow(10, v) : v);
      };
      if (!line.smoothOnly) {
        series.push({label: line.label, stroke: faded(line.colour), width: 1, value: value});
      }
      series.push({
        label: line.smoothOnly ? line.label : line.title + ' smoothed',
        stroke: line.colour, width: 1.5, value: value
      });
    });
    var stretches = [];
    spec.lines.forEach(function (line) { stretches = stretches.concat(line.nonfinite || []); });
    var opts = {
      width: Math.max(320, element.clientWidth || 900),
      height: spec.height,
      title: spec.title,
      scales: {x: {time: false}},
      series: series,
      axes: [
        {label: 'step'},
        log ? {size: 70, splits: logSplits, values: logValues, label: spec.axis + ' (log)'}
          : {size: 70, values: linearValues, label: spec.axis}
      ],
      cursor: spec.sync ? {sync: {key: spec.sync}} : {},
      hooks: {draw: [function (u) { drawMarks(u, spec.marks || [], stretches, element); }]}
    };
    element.textContent = '';
    var chart = {spec: spec, element: element, log: log};
    chart.u = new uPlot(opts, chartData(spec.lines, log), element);
    element.dataset.scale = log ? 'log' : 'linear';
    return chart;
  }

  function refresh(chart, rebuild) {
    if (rebuild) {
      var fresh = makeChart(chart.element, chart.spec);
      chart.u.destroy();
      chart.u = fresh.u;
      chart.log = fresh.log;
    } else {
      chart.u.setData(chartData(chart.spec.lines, chart.log), false);
      chart.u.redraw();
    }
  }

  function runCharts(element) {
    var index = Number(element.dataset.run);
    var curves = report.curves[index], run = runs[index];
    if (!curves) return;
    var charts = [];
    PANELS.forEach(function (panel) {
      var roles = panel.roles.filter(function (role) { return curves[role]; });
      if (!roles.length) return;
      var drawnSignals = panel.roles[0] === 'train_loss'
        ? function (s) { return !(s === 'grad_norm' && curves.grad_norm) && !(s === 'lr' && curves.lr); }
        : function (s) { return panel.roles.indexOf(s) >= 0; };
      var marks = run.marks.filter(function (m) { return drawnSignals(m.signal); });
      var whole = marks.filter(function (m) { return m.kind === 'run'; }).map(function (m) {
        return m.code + ' ' + m.name;
      });
      var box = document.createElement('div');
      box.className = 'chart';
      box.dataset.panel = panel.roles[0];
      element.appendChild(box);
      charts.push(makeChart(box, {
        title: whole.length ? panel.title + ' - over the whole run: ' + whole.join(', ')
          : (panel.roles[0] === 'train_loss' ? panel.title : ''),
        axis: panel.title,
        height: panel.height,
        sync: 'run-' + index,
        marks: marks,
        lines: roles.map(function (role) {
          var c = curves[role];
          return {label: c.tag, title: ROLE_TITLES[role], x: c.x, y: c.y,
            colour: ROLE_COLOURS[role], nonfinite: c.nonfinite};
        })
      }));
    });
    syncZoom(charts);
    report.charts[index] = charts;
    var drawn = Number(body.dataset.chartsDrawn) + 1;
    body.dataset.chartsDrawn = String(drawn);
    if (drawn === 1) body.dataset.firstChartMs = String(Math.round(performance.now()));
  }

  /* Zooming one chart of a run zooms its other charts to the same steps. */
  function syncZoom(charts) {
    var busy = false;
    charts.forEach(function (chart) {
      chart.u.hooks.setScale = [function (u, key) {
        if (key !== 'x' || busy) return;
        busy = true;
        charts.forEach(function (other) {
          if (other.u !== u) other.u.setScale('x', {min: u.scales.x.min, max: u.scales.x.max});
        });
        busy = false;
      }];
    });
  }

  /* Charts follow the page's width. */
  var resizing = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      everyChart(function (chart) {
        chart.u.setSize({width: Math.max(320, chart.element.clientWidth), height: chart.spec.height});
      });
    }, 150);
  });

  function everyChart(fn) {
    Object.keys(report.charts).forEach(function (key) { report.charts[key].forEach(fn); });
    if (report.overlay) fn(report.overlay);
  }

  // -- Index: sort, filter, group, select -----------------------------------------------------

  var table = document.getElementById('index');
  var tbody = table.tBodies[0];
  var rows = [], order = [];
  var text = document.getElementById('filter-text');
  var verdict = document.getElementById('filter-verdict');
  var groupBy = document.getElementById('group-by');
  var overlayButton = document.getElementById('overlay-button');
  function entry(row) { return runs[Number(row.dataset.index)]; }
  function missingLast(v, descending) { return v === null ? (descending ? -Infinity : Infinity) : v; }
  var keys = {
    name: function (r) { return r.name.toLowerCase(); },
    format: function (r) { return r.format; },
    verdict: function (r) { return data.verdict_order.indexOf(r.diagnosis); },
    confidence: function (r) { return -r.confidence; },
    final_loss: function (r, d) { return missingLast(r.final_loss, d); },
    best_loss: function (r, d) { return missingLast(r.best_loss, d); },
    top: function (r) { return r.top; },
    params: function (r, d, row) { return row.querySelector('td.params').title; }
  };
  var lastKey = null, ascending = true;
  table.querySelectorAll('th[data-sort]').forEach(function (header) {
    header.addEventListener('click', function () {
      var name = header.dataset.sort, key = keys[name];
      ascending = lastKey === name ? !ascending : true;
      lastKey = name;
      table.querySelectorAll('th[aria-sort]').forEach(function (h) { h.removeAttribute('aria-sort'); });
      header.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      order.sort(function (a, b) {
        var x = key(entry(a), !ascending, a), y = key(entry(b), !ascending, b);
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      layout();
    });
  });

  var haystacks = {};
  function haystack(row) {
    var index = row.dataset.index, run = runs[index];
    if (!(index in haystacks)) {
      haystacks[index] = [row.textContent, row.querySelector('td.params').title, run.folder,
        run.experiment, run.sweep].join(' ').toLowerCase();
    }
    return haystacks[index];
  }
  function shown(row) {
    var needle = text.value.toLowerCase();
    return (!verdict.value || entry(row).diagnosis === verdict.value) &&
      (!needle || haystack(row).indexOf(needle) >= 0);
  }

  var UNGROUPED = {folder: '(no folder)', experiment: '(not in an MLflow experiment)',
    sweep: '(not in an LR sweep)'};
  function layout() {
    tbody.querySelectorAll('tr.group').forEach(function (row) { row.remove(); });
    var group = groupBy.value, placed = order, none = UNGROUPED[group];
    if (group) {
      var position = new Map();
      order.forEach(function (row, i) { position.set(row, i); });
      placed = order.slice().sort(function (a, b) {
        var ga = entry(a)[group] || none, gb = entry(b)[group] || none;
        return ga === gb ? position.get(a) - position.get(b) : (ga < gb ? -1 : 1);
      });
    }
    var current = null, header = null, count = 0;
    function close() { if (header) { header.hidden = !count; header.firstChild.textContent = current + ' (' + count + (count === 1 ? ' run)' : ' runs)'); } }
    placed.forEach(function (row) {
      var run = entry(row);
      if (group && (run[group] || none) !== current) {
        close();
        current = run[group] || none;
        header = document.createElement('tr');
        header.className = 'group';
        var cell = document.createElement('td');
        cell.colSpan = 10;
        header.appendChild(cell);
        tbody.appendChild(header);
        count = 0;
      }
      row.hidden = !shown(row);
      if (!row.hidden) count++;
      tbody.appendChild(row);
    });
    close();
  }
  text.addEventListener('input', layout);
  verdict.addEventListener('change', layout);
  groupBy.addEventListener('change', layout);

  function picked() {
    return order.filter(function (row) { return row.querySelector('input.pick').checked; })
      .map(function (row) { return Number(row.dataset.index); });
  }
  function updateButton() {
    var n = picked().length;
    overlayButton.textContent = 'overlay selected (' + n + ')';
    overlayButton.disabled = n === 0;
  }
  tbody.addEventListener('change', updateButton);
  document.getElementById('pick-all').addEventListener('change', function (event) {
    rows.forEach(function (row) {
      if (!row.hidden) row.querySelector('input.pick').checked = event.target.checked;
    });
    updateButton();
  });

  // -- Sparklines: each run's loss in its index row, drawn when the row is in view ------------

  var SPARK = {width: 120, height: 28};
  function sparkline(row) {
    var index = Number(row.dataset.index), curves = report.curves[index];
    var curve = curves && (curves.train_loss || curves.val_loss);
    var cell = row.querySelector('td.spark');
    if (!curve || cell.firstChild) return;
    var ratio = window.devicePixelRatio || 1;
    var canvas = document.createElement('canvas');
    canvas.width = SPARK.width * ratio;
    canvas.height = SPARK.height * ratio;
    canvas.style.width = SPARK.width + 'px';
    canvas.style.height = SPARK.height + 'px';
    cell.appendChild(canvas);
    var log = useLog([curve.y]);
    var ys = log ? toLog(curve.y) : curve.y, xs = curve.x;
    var low = Infinity, high = -Infinity;
    ys.forEach(function (v) { if (v !== null && isFinite(v)) { low = Math.min(low, v); high = Math.max(high, v); } });
    var ctx = canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    var first = xs[0], span = (xs[xs.length - 1] - first) || 1, height = (high - low) || 1;
    function x(step) { return 1 + (SPARK.width - 2) * (step - first) / span; }
    function y(v) { return SPARK.height - 2 - (SPARK.height - 4) * (v - low) / height; }
    ctx.strokeStyle = data.colours[runs[index].diagnosis] || '#000';
    ctx.lineWidth = 1;
    ctx.beginPath();
    var drawing = false;
    for (var i = 0; i < ys.length; i++) {
      if (ys[i] === null || !isFinite(ys[i])) { drawing = false; continue; }
      if (drawing) ctx.lineTo(x(xs[i]), y(ys[i])); else ctx.moveTo(x(xs[i]), y(ys[i]));
      drawing = true;
    }
    ctx.stroke();
    ctx.fillStyle = NONFINITE;
    curve.nonfinite.forEach(function (s) {
      ctx.fillRect(x(s.start), SPARK.height - 3, Math.max(x(s.end) - x(s.start), 2), 3);
    });
  }

  // -- Overlay ------------------------------------------------------------------------------

  var overlay = document.getElementById('overlay');
  var overlaySignal = document.getElementById('overlay-signal');
  function drawOverlay() {
    if (!report.curves) return;
    var role = overlaySignal.value, lines = [], missing = 0;
    picked().forEach(function (index) {
      var c = report.curves[index] && report.curves[index][role];
      if (!c) { missing++; return; }
      lines.push({label: runs[index].name, x: c.x, y: c.y, smoothOnly: true,
        colour: PALETTE[lines.length % PALETTE.length]});
    });
    var element = document.getElementById('overlay-chart');
    if (report.overlay) { report.overlay.u.destroy(); report.overlay = null; }
    element.textContent = '';
    document.getElementById('overlay-missing').textContent = missing
      ? missing + ' selected run(s) log no ' + ROLE_TITLES[role] + '.' : '';
    if (!lines.length) return;
    report.overlay = makeChart(element, {title: ROLE_TITLES[role], axis: ROLE_TITLES[role],
      height: 360, lines: lines, marks: []});
  }
  overlayButton.addEventListener('click', function () {
    overlay.hidden = false;
    drawOverlay();
    overlay.scrollIntoView();
  });
  overlaySignal.addEventListener('change', drawOverlay);
  document.getElementById('overlay-close').addEventListener('click', function () {
    overlay.hidden = true;
  });

  // -- Toolbar --------------------------------------------------------------------------------

  var slider = document.getElementById('smoothing');
  slider.addEventListener('input', function () {
    report.smoothing = Number(slider.value);
    document.getElementById('smoothing-value').textContent = report.smoothing.toFixed(3);
    everyChart(function (chart) { refresh(chart, false); });
  });
  document.getElementById('scale').addEventListener('change', function (event) {
    report.scale = event.target.value;
    everyChart(function (chart) { refresh(chart, true); });
  });

  function hashTarget() {
    var id = location.hash.slice(1);
    try { id = decodeURIComponent(id); } catch (error) { /* the id as written */ }
    return id ? document.getElementById(id) : null;
  }
  function openRulePage() {
    var target = hashTarget();
    if (target && target.tagName === 'DETAILS') target.open = true;
  }
  window.addEventListener('hashchange', openRulePage);
  openRulePage();

  // -- The index's rows and the runs' sections: unpacked and put in place ---------------------

  function place(parts) {
    data = report.data = JSON.parse(parts[0]);
    runs = data.runs;
    tbody.innerHTML = parts[1];
    // Each section's shell holds its name and its charts' placeholder; its text comes in two
    // pieces, before and after the charts.
    var shells = document.querySelectorAll('#runs > section.run');
    var texts = parts[2].split('<!--run-->').slice(1);
    if (texts.length !== shells.length) {
      throw new Error(texts.length + ' sections packed for ' + shells.length + ' runs');
    }
    shells.forEach(function (section, i) {
      var pieces = texts[i].split('<!--charts-->');
      section.firstElementChild.insertAdjacentHTML('afterend', pieces[0]);
      section.insertAdjacentHTML('beforeend', pieces[1]);
    });
    document.getElementById('unpacking').remove();
    rows = Array.prototype.slice.call(tbody.querySelectorAll('tr.run'));
    order = rows.slice();
    body.dataset.indexRows = String(rows.length);
    body.dataset.runsReady = '1';
    body.dataset.runsReadyMs = String(Math.round(performance.now()));
    // Opened at a run (report.html#run-5): the browser scrolled to its shell before the index
    // and the sections above it grew, so scroll to it again.
    var target = hashTarget();
    if (target) target.scrollIntoView();
  }

  function failed(error) {
    var message = document.getElementById('unpacking');
    if (message) {
      message.textContent = 'This browser could not unpack the report (' + error +
        '); lrdoctor audit --format text or json shows the same findings.';
    }
  }

  // -- Charts are drawn when their section scrolls into view ----------------------------------

  report.smoothing = Number(slider.value);
  // All four blocks inflate at once; the curves, the biggest, are parsed once the runs are in
  // place.
  var curvesText = inflate('lrdoctor-curves');
  curvesText.catch(function () { /* reported below, once the runs are in place */ });
  report.ready = Promise.all(
    ['lrdoctor-data', 'lrdoctor-index', 'lrdoctor-runs'].map(inflate)
  ).then(place).catch(function (error) {
    body.dataset.runsError = String(error);
    failed(error);
    throw error;
  }).then(function () { return unpackCurves(curvesText); }).then(function (curves) {
    report.curves = curves;
    var placeholders = document.querySelectorAll('.charts[data-run]');
    if (!('IntersectionObserver' in window)) {
      placeholders.forEach(runCharts);
      rows.forEach(sparkline);
      body.dataset.curvesReady = '1';
      return;
    }
    var observer = new IntersectionObserver(function (seen) {
      seen.forEach(function (item) {
        if (!item.isIntersecting) return;
        observer.unobserve(item.target);
        if (item.target.tagName === 'TR') sparkline(item.target); else runCharts(item.target);
      });
    }, {rootMargin: '300px'});
    placeholders.forEach(function (element) { observer.observe(element); });
    rows.forEach(function (row) { observer.observe(row); });
    body.dataset.curvesReady = '1';
  }).catch(function (error) {
    if (body.dataset.runsError) return;
    body.dataset.curvesError = String(error);
    document.querySelectorAll('.charts[data-run]').forEach(function (element) {
      element.textContent = 'This browser could not unpack the curves (' + error +
        '); the findings below are complete.';
    });
  });
})();
