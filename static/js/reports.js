/*
 * Report charts: each .report-chart element carries, in data-chart, the numbers of the table
 * below it (categories, series, units) as the server computed them. The tables are the report;
 * without this script (or ECharts) the charts simply stay hidden.
 */
(function () {
  'use strict';

  if (!window.echarts) {
    return;
  }
  var locale = document.documentElement.lang === 'en' ? 'EN' : 'ZH';
  // Beyond this many categories a vertical chart gets a slider instead of unreadable labels.
  var ZOOM_AFTER = 24;

  function unitFormatter(unit) {
    return function (value) {
      if (value === null || value === undefined) {
        return '—';
      }
      var text = Number(value).toLocaleString(document.documentElement.lang);
      return unit === '¥' ? '¥' + text : text + (unit ? ' ' + unit : '');
    };
  }

  function draw(element) {
    var data = JSON.parse(element.getAttribute('data-chart'));
    if (!data.categories.length) {
      return;
    }
    var count = data.categories.length;
    element.hidden = false;
    element.style.height = (data.horizontal ? Math.max(240, 28 * count + 80) : 360) + 'px';
    var chart = window.echarts.init(element, null, {locale: locale});
    var valueAxes = data.units.map(function (unit, index) {
      return {
        type: 'value', name: unit, position: index ? 'right' : 'left',
        splitLine: {show: index === 0}
      };
    });
    var categoryAxis = {
      type: 'category', data: data.categories, inverse: data.horizontal,
      axisLabel: data.horizontal ? {} : {rotate: count > 6 ? 40 : 0, hideOverlap: true}
    };
    var series = data.series.map(function (item) {
      var entry = {
        name: item.name, type: item.type, data: item.data, stack: item.stack || undefined,
        connectNulls: true,
        tooltip: {valueFormatter: unitFormatter(data.units[item.axis])}
      };
      entry[data.horizontal ? 'xAxisIndex' : 'yAxisIndex'] = item.axis;
      return entry;
    });
    var option = {
      tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}},
      legend: {top: 0},
      grid: {left: 8, right: 8, top: 48, bottom: count > ZOOM_AFTER && !data.horizontal ? 48 : 8,
             containLabel: true},
      xAxis: data.horizontal ? valueAxes : categoryAxis,
      yAxis: data.horizontal ? categoryAxis : valueAxes,
      series: series
    };
    if (count > ZOOM_AFTER && !data.horizontal) {
      option.dataZoom = [{type: 'slider', startValue: 0, endValue: ZOOM_AFTER - 1}];
    }
    chart.setOption(option);
    window.addEventListener('resize', function () { chart.resize(); });
  }

  document.querySelectorAll('.report-chart[data-chart]').forEach(draw);
})();
