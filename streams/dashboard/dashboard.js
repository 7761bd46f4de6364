// The live dashboard's page script: polls /dashboard/data (every 2 s; ?every=<ms> to change it) and
// draws it with Apache ECharts. Text from the data is set with textContent, never as HTML.
/* global echarts */
(function () {
  'use strict';
  var every = Number(new URLSearchParams(location.search).get('every')) || 2000;
  var charts = {};
  var updates = 0;
  function el(id) {
    return document.getElementById(id);
  }
  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init(el(id), null, { renderer: 'canvas' });
    return charts[id];
  }
  function draw(id, option) {
    option.animation = false;
    chart(id).setOption(option, { notMerge: true });
  }
  /** A chart's message when there is nothing to draw yet (drawn on the canvas like the data). */
  function empty(message) {
    return message
      ? {
          text: message,
          left: 'center',
          top: 'middle',
          textStyle: { color: '#8f959e', fontSize: 13, fontWeight: 'normal' },
        }
      : undefined;
  }
  /** Grouped bars: one group per row (its `key`), one bar per series (name -> field). */
  function drawBars(id, rows, key, series, opts) {
    var scale = opts.scale || 1;
    draw(id, {
      title: empty(rows.length ? '' : opts.empty),
      tooltip: { trigger: 'axis' },
      legend: { bottom: 0 },
      grid: { left: 40, right: 10, top: 10, bottom: 40 },
      xAxis: {
        type: 'category',
        data: rows.map(function (r) {
          return r[key];
        }),
      },
      yAxis: { type: 'value', axisLabel: { formatter: '{value}' + (opts.unit || '') } },
      series: Object.keys(series).map(function (name) {
        return {
          name: name,
          type: 'bar',
          data: rows.map(function (r) {
            return scale * num(r[series[name]]);
          }),
        };
      }),
    });
  }
  function text(id, value) {
    el(id).textContent = value;
  }
  function pct(x) {
    return x === null || x === undefined ? '-' : (100 * x).toFixed(1) + '%';
  }
  function num(x) {
    return x === null || x === undefined ? 0 : Number(x);
  }

  function render(d) {
    var bot =
      d.service.find(function (r) {
        return r.responder === 'bot';
      }) || {};
    var human =
      d.service.find(function (r) {
        return r.responder === 'human';
      }) || {};
    text('kpi-events', String(d.totals.events));
    text('kpi-orders', String(d.totals.orders));
    text('kpi-revenue', d.totals.revenue.toFixed(2));
    text('kpi-conversations', String(num(bot.conversations)));
    text('kpi-containment', pct(bot.containment));
    text('kpi-dead-letters', String(d.operations.deadLetters.total));

    var types = Array.from(
      new Set(
        d.throughput.map(function (r) {
          return r.type;
        }),
      ),
    ).sort();
    var times = Array.from(
      new Set(
        d.throughput.map(function (r) {
          return r.t;
        }),
      ),
    ).sort(function (a, b) {
      return a - b;
    });
    var at = {};
    d.throughput.forEach(function (r) {
      at[r.t + '|' + r.type] = r.perSecond;
    });
    draw('throughput', {
      title: empty(times.length ? '' : 'no events stored in the last 10 minutes'),
      tooltip: { trigger: 'axis' },
      legend: { type: 'scroll', bottom: 0 },
      grid: { left: 40, right: 10, top: 10, bottom: 40 },
      xAxis: {
        type: 'category',
        data: times.map(function (t) {
          return new Date(t * 1000).toLocaleTimeString();
        }),
      },
      yAxis: { type: 'value' },
      series: types.map(function (type) {
        return {
          name: type,
          type: 'bar',
          stack: 'all',
          barMaxWidth: 24,
          data: times.map(function (t) {
            return at[t + '|' + type] || 0;
          }),
        };
      }),
    });

    var f = d.funnel;
    draw('funnel', {
      title: empty(f.viewed ? '' : 'no product views in 24 h'),
      tooltip: { trigger: 'item' },
      series: [
        {
          type: 'funnel',
          sort: 'none',
          left: 10,
          right: 10,
          label: { formatter: '{b}: {c}' },
          data: [
            { name: 'viewed', value: f.viewed },
            { name: 'carted', value: f.carted },
            { name: 'checked out', value: f.checkedOut },
            { name: 'ordered', value: f.ordered },
          ],
        },
      ],
    });

    drawBars(
      'recovery',
      d.recovery,
      'flow',
      { treatment: 'recovery_rate', holdout: 'holdout_rate' },
      {
        empty: 'no abandoned carts in 24 h',
        scale: 100,
        unit: '%',
      },
    );
    text(
      'recovery-note',
      d.recovery
        .map(function (r) {
          return (
            r.flow +
            ': uplift ' +
            (r.uplift_pts === null ? '-' : r.uplift_pts + ' pts') +
            ', 95% CI [' +
            (r.ci95_low_pts === null ? '-' : r.ci95_low_pts) +
            ', ' +
            (r.ci95_high_pts === null ? '-' : r.ci95_high_pts) +
            '], ' +
            r.significance +
            '; recovered revenue ' +
            num(r.recovered_revenue).toFixed(2) +
            ' USD'
          );
        })
        .join(' · ') || 'no abandoned carts yet',
    );

    drawBars(
      'coupons',
      d.couponsByTier,
      'tier',
      { issued: 'issued', redeemed: 'redeemed' },
      {
        empty: 'no coupons issued in 24 h',
      },
    );

    draw('containment', {
      tooltip: { trigger: 'item' },
      series: [
        {
          type: 'pie',
          radius: ['45%', '70%'],
          label: { formatter: '{b}: {c} ({d}%)' },
          data: [
            { name: 'contained by the bot', value: num(bot.contained) },
            { name: 'handed to a human', value: num(bot.conversations) - num(bot.contained) },
          ],
        },
      ],
    });

    draw('response', {
      title: empty(
        bot.first_response_p50 === null || bot.first_response_p50 === undefined ? 'no replies in 24 h' : '',
      ),
      tooltip: { trigger: 'axis' },
      legend: { bottom: 0 },
      grid: { left: 50, right: 10, top: 10, bottom: 40 },
      xAxis: { type: 'category', data: ['p50', 'p95', 'p99'] },
      yAxis: { type: 'log', min: 1 },
      series: [bot, human].map(function (r, i) {
        return {
          name: i === 0 ? 'bot' : 'human',
          type: 'bar',
          data: [r.first_response_p50, r.first_response_p95, r.first_response_p99].map(function (v) {
            return v === null || v === undefined ? null : Math.max(1, v);
          }),
        };
      }),
    });

    var sla = human.first_response_sla;
    draw('sla', {
      title: empty(sla === null || sla === undefined ? 'no decided escalations in 24 h' : ''),
      series:
        sla === null || sla === undefined
          ? []
          : [
              {
                type: 'gauge',
                min: 0,
                max: 100,
                progress: { show: true },
                detail: { formatter: sla === null || sla === undefined ? '-' : '{value}%' },
                data: [
                  {
                    value: sla === null || sla === undefined ? 0 : Math.round(1000 * sla) / 10,
                    name: 'first response',
                  },
                ],
              },
            ],
    });

    var lag = d.operations.lag;
    draw('lag', {
      title: empty(lag.length ? '' : 'no consumers'),
      tooltip: { trigger: 'axis' },
      grid: { left: 120, right: 10, top: 10, bottom: 20 },
      xAxis: { type: 'value' },
      yAxis: {
        type: 'category',
        data: lag.map(function (r) {
          return r.consumer;
        }),
      },
      series: [
        {
          type: 'bar',
          data: lag.map(function (r) {
            return r.pending;
          }),
        },
      ],
    });

    var reasons = Object.keys(d.operations.deadLetters.byReason).sort();
    draw('dead-letters', {
      title: empty(reasons.length ? '' : 'no dead letters'),
      tooltip: { trigger: 'item' },
      series: [
        {
          type: 'pie',
          radius: '65%',
          label: { formatter: '{b}: {c}' },
          data: reasons.map(function (r) {
            return { name: r, value: d.operations.deadLetters.byReason[r] };
          }),
        },
      ],
    });

    var body = el('gaps');
    body.replaceChildren();
    d.gaps.forEach(function (g) {
      var tr = document.createElement('tr');
      [String(g.asked), g.intent, g.examples.join(' | ')].forEach(function (v) {
        var td = document.createElement('td');
        td.textContent = v;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });

    var alerts = el('alerts');
    alerts.replaceChildren();
    (d.alerts || []).forEach(function (a) {
      var li = document.createElement('li');
      li.className = a.firing ? 'firing' : 'ok';
      li.textContent = (a.firing ? 'FIRING ' : 'ok ') + a.name + ': ' + a.summary;
      alerts.appendChild(li);
    });
  }

  function tick() {
    fetch('/dashboard/data', { cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (d) {
        render(d);
        updates += 1;
        document.body.dataset.updates = String(updates);
        text('status', 'updated ' + new Date(d.generatedAt).toLocaleTimeString());
      })
      .catch(function (e) {
        text('status', 'cannot load the data: ' + e.message);
      })
      .finally(function () {
        setTimeout(tick, every);
      });
  }
  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (k) {
      charts[k].resize();
    });
  });
  tick();
})();
