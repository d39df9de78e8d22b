/* Start Mirador (3 or 4: same API) on the page's manifest, with `q` already searched.
 *
 * The config comes from the JSON in #viewer-config (escaped server-side). Before starting,
 * the manifest is fetched once to see whether it declares a Search 1.0 (or 0) service:
 * if so the sidebar opens on the search panel, otherwise on the info panel (Mirador
 * would show a search panel with nowhere to send the query).
 *
 * How `q` is run differs by version:
 * - Mirador 3: the window's `defaultSearchQuery`, Mirador's own way.
 * - Mirador 4.0.0: `defaultSearchQuery` makes the search run twice (once by a saga, once
 *   by the search panel when the query reaches it) and the second request for the same
 *   URL crashes the hit list ("Cannot read properties of undefined (reading 'targetId')",
 *   ProjectMirador/mirador#4229). So the query goes through the search panel itself, as
 *   if typed: one request, the same code path as a reader's search.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("viewer-config").textContent);
  var SEARCH_PROFILE = /^https?:\/\/iiif\.io\/api\/search\/[01]\/search$/;
  var PANEL_WAIT_MS = 60000;

  function hasSearchService(manifest) {
    var services = [].concat(manifest.service || [], manifest.services || []);
    return services.some(function (service) {
      var profiles = [].concat(service.profile || []);
      return profiles.some(function (p) { return typeof p === "string" && SEARCH_PROFILE.test(p); });
    });
  }

  function searchThroughPanel(query) {
    var started = Date.now();
    (function attempt() {
      var input = document.querySelector('#viewer form input[id^="search-"]');
      if (!input || !input.form) {
        if (Date.now() - started < PANEL_WAIT_MS) window.setTimeout(attempt, 100);
        return;
      }
      // React tracks the value through the native setter; an "input" event makes it see the change.
      var setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
      input.focus();
      setValue.call(input, query);
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.form.requestSubmit();
      input.blur();  // closes the autocomplete list the typing opened
    })();
  }

  function start(searchable) {
    var win = { manifestId: config.manifest };
    var runQuery = config.q && searchable !== false;
    if (runQuery && config.viewer === "mirador3") win.defaultSearchQuery = config.q;
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
    if (runQuery && config.viewer !== "mirador3") searchThroughPanel(config.q);
  }

  fetch(config.manifest, { headers: { Accept: "application/ld+json, application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (manifest) { start(manifest ? hasSearchService(manifest) : undefined); })
    // Unreachable or not JSON: let Mirador show its own error for the manifest.
    .catch(function () { start(undefined); });
})();
