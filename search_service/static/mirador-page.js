/* Start Mirador (3 or 4: same API) on the page's manifest, with `q` already searched.
 *
 * The config comes from the JSON in #viewer-config (escaped server-side). Before starting,
 * the manifest is fetched once to see whether it declares a Search 1.0 (or 0) service:
 * if so the sidebar opens on the search panel, otherwise on the info panel (Mirador
 * would show a search panel with nowhere to send the query).
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("viewer-config").textContent);
  var SEARCH_PROFILE = /^https?:\/\/iiif\.io\/api\/search\/[01]\/search$/;

  function hasSearchService(manifest) {
    var services = [].concat(manifest.service || [], manifest.services || []);
    return services.some(function (service) {
      var profiles = [].concat(service.profile || []);
      return profiles.some(function (p) { return typeof p === "string" && SEARCH_PROFILE.test(p); });
    });
  }

  function start(searchable) {
    var win = { manifestId: config.manifest };
    // Mirador opens the search panel and runs this query once the manifest is loaded.
    if (config.q && searchable !== false) win.defaultSearchQuery = config.q;
    window.miradorInstance = Mirador.viewer({
      id: "viewer",
      windows: [win],
      window: {
        allowClose: false,
        allowMaximize: false,
        sideBarOpen: true,
        sideBarOpenByDefault: true,
        defaultSideBarPanel: searchable === false ? "info" : "search",
        panels: { info: true, attribution: true, canvas: true, annotations: true, search: true },
      },
      workspaceControlPanel: { enabled: false },
    });
  }

  fetch(config.manifest, { headers: { Accept: "application/ld+json, application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (manifest) { start(manifest ? hasSearchService(manifest) : undefined); })
    // Unreachable or not JSON: let Mirador show its own error for the manifest.
    .catch(function () { start(undefined); });
})();
