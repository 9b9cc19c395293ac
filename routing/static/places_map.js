// The metro stations on a Leaflet map with OpenStreetMap tiles; without internet the stations stand on the
// map's plain grid background (the tiles simply do not load).
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("places-map");
    if (!box || !window.L) return;
    var L = window.L, map = L.map(box, { center: [57.8, 34.0], zoom: 5 });
    L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", { maxZoom: 19, attribution: "&copy; участники OpenStreetMap" }).addTo(map);
    var stations = [];
    try { stations = JSON.parse(document.getElementById("stations-data").textContent || "[]"); } catch (e) { stations = []; }
    var group = L.featureGroup();
    stations.forEach(function (s) {
      var label = document.createElement("span");
      label.textContent = s.name + " · " + s.city;  // the list is editable: a name is text, never markup
      L.circleMarker([s.lat, s.lon], { radius: 4, color: "#c62828", weight: 1 }).bindTooltip(label).addTo(group);
    });
    group.addTo(map);
    if (stations.length) map.fitBounds(group.getBounds(), { padding: [10, 10] });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
