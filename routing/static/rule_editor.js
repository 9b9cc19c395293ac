// The rule editor: drag a rule row to reorder (the buttons Выше/Ниже do the same without a script), and draw
// the rule's area on a Leaflet map with OpenStreetMap tiles. When the tiles cannot load (no internet) the map
// still works: the area is drawn over a plain coordinate grid. The area is kept as GeoJSON in #polygon-input.
(function () {
  "use strict";

  function reorder() {
    var table = document.getElementById("rules");
    var form = document.getElementById("order-form");
    if (!table || !form) return;
    var body = table.tBodies[0], dragged = null;
    body.addEventListener("dragstart", function (ev) {
      dragged = ev.target.closest("tr");
      if (!dragged) return;
      dragged.classList.add("dragging");
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", dragged.dataset.rule);
    });
    body.addEventListener("dragover", function (ev) {
      var row = ev.target.closest("tr");
      if (!dragged || !row || row === dragged) return;
      ev.preventDefault();
      body.querySelectorAll(".drop-before").forEach(function (r) { r.classList.remove("drop-before"); });
      row.classList.add("drop-before");
    });
    body.addEventListener("drop", function (ev) {
      var row = ev.target.closest("tr");
      ev.preventDefault();
      if (!dragged || !row || row === dragged) return;
      body.insertBefore(dragged, row);
      var ids = Array.prototype.map.call(body.rows, function (r) { return r.dataset.rule; });
      form.elements.order.value = ids.join(",");
      form.submit();
    });
    body.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      body.querySelectorAll(".drop-before").forEach(function (r) { r.classList.remove("drop-before"); });
      dragged = null;
    });
  }

  function gridLayer(L) {
    // coordinate lines every 0.05° so the drawn area has a reference even without street tiles
    var layer = L.layerGroup();
    function draw(map) {
      layer.clearLayers();
      var b = map.getBounds(), step = map.getZoom() >= 13 ? 0.01 : map.getZoom() >= 11 ? 0.05 : 0.2;
      for (var x = Math.floor(b.getWest() / step) * step; x < b.getEast(); x += step) {
        layer.addLayer(L.polyline([[b.getSouth(), x], [b.getNorth(), x]], { color: "#9aa5b1", weight: 1, interactive: false }));
      }
      for (var y = Math.floor(b.getSouth() / step) * step; y < b.getNorth(); y += step) {
        layer.addLayer(L.polyline([[y, b.getWest()], [y, b.getEast()]], { color: "#9aa5b1", weight: 1, interactive: false }));
      }
    }
    return { layer: layer, draw: draw };
  }

  function mapEditor() {
    var box = document.getElementById("rule-map"), input = document.getElementById("polygon-input");
    if (!box || !input || !window.L) return;
    var L = window.L;
    var map = L.map(box, { center: [55.751, 37.618], zoom: 11 });
    L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19, attribution: "&copy; участники OpenStreetMap"
    }).addTo(map);
    var grid = gridLayer(L);
    grid.layer.addTo(map);
    grid.draw(map);
    map.on("moveend", function () { grid.draw(map); });
    var stations = [];
    try { stations = JSON.parse(document.getElementById("stations-data").textContent || "[]"); } catch (e) { stations = []; }
    stations.forEach(function (s) {
      var label = document.createElement("span");
      label.textContent = s.name;  // the list is editable: a name is text, never markup
      L.circleMarker([s.lat, s.lon], { radius: 3, color: "#c62828", weight: 1 }).bindTooltip(label).addTo(map);
    });
    var points = [], shape = null, closed = false;
    function show() {
      if (shape) map.removeLayer(shape);
      shape = null;
      if (!points.length) return;
      shape = closed ? L.polygon(points, { color: "#1565c0" }) : L.polyline(points, { color: "#1565c0", dashArray: "4" });
      shape.addTo(map);
    }
    function save() {
      if (!closed || points.length < 3) { input.value = ""; return; }
      var ring = points.map(function (p) { return [Number(p.lng.toFixed(6)), Number(p.lat.toFixed(6))]; });
      ring.push(ring[0]);
      input.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    }
    function load() {
      if (!input.value.trim()) return;
      try {
        var g = JSON.parse(input.value);
        var ring = g.type === "Polygon" ? g.coordinates[0] : g.type === "MultiPolygon" ? g.coordinates[0][0] : [];
        points = ring.slice(0, -1).map(function (c) { return L.latLng(c[1], c[0]); });
        closed = points.length >= 3;
        show();
        if (shape) map.fitBounds(shape.getBounds(), { padding: [20, 20] });
      } catch (e) { /* the server says what is wrong with the text */ }
    }
    map.on("click", function (ev) {
      if (closed) { points = []; closed = false; }
      points.push(ev.latlng);
      show();
      save();
    });
    document.getElementById("map-close").addEventListener("click", function () {
      if (points.length >= 3) { closed = true; show(); save(); }
    });
    document.getElementById("map-clear").addEventListener("click", function () {
      points = []; closed = false; show(); save();
    });
    input.addEventListener("change", function () { points = []; closed = false; load(); });
    load();
    window.hubRuleMap = map;  // for tests and for the replay page's preview
  }

  function start() { reorder(); mapEditor(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
