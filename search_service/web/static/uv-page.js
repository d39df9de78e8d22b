/* Start the Universal Viewer 4.4 on the page's manifest, with `q` already searched, on the
 * page's canvas when it names one.
 *
 * UV's OpenSeadragon extension runs a search for `data.highlight` when it first renders
 * (Extension.checkForSearchParam), which is how `?q=` reaches it.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("viewer-config").textContent);
  var container = document.getElementById("viewer");
  var target = document.createElement("div");
  target.id = "uv";
  target.className = "uv";
  container.appendChild(target);

  function start(canvasIndex) {
    var data = { iiifManifestId: config.manifest, embedded: true };
    if (config.q) data.highlight = config.q;
    if (canvasIndex > 0) data.canvasIndex = canvasIndex;
    window.uv = UV.init("uv", data);
    window.uv.on("configure", function (event) {
      event.cb({ options: { saveUserSettings: false, searchWithinEnabled: true, zoomToSearchResultEnabled: true } });
    });
  }

  /* UV opens on a canvas by its place in the manifest, so a `canvas` id (a hit of the
   * results page, #13, perhaps with `#xywh=`) is looked up in the manifest first. */
  function canvasIndexIn(manifest, canvas) {
    var canvases = manifest.items || ((manifest.sequences || [])[0] || {}).canvases || [];
    for (var i = 0; i < canvases.length; i++) {
      if ((canvases[i].id || canvases[i]["@id"]) === canvas) return i;
    }
    return 0;
  }

  if (!config.canvas) {
    start(0);
  } else {
    fetch(config.manifest, { headers: { Accept: "application/ld+json, application/json" } })
      .then(function (response) { return response.ok ? response.json() : {}; })
      .then(function (manifest) { start(canvasIndexIn(manifest, config.canvas.split("#")[0])); })
      .catch(function () { start(0); });
  }
})();
