/* Start the Universal Viewer 4.4 on the page's manifest, with `q` already searched.
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

  var data = { iiifManifestId: config.manifest, embedded: true };
  if (config.q) data.highlight = config.q;
  window.uv = UV.init("uv", data);
  window.uv.on("configure", function (event) {
    event.cb({ options: { saveUserSettings: false, searchWithinEnabled: true, zoomToSearchResultEnabled: true } });
  });
})();
