/* Start Mirador (3 or 4: same API) on the page's manifest, with `q` already searched,
 * on the page's canvas when it names one.
 *
 * The config comes from the JSON in #viewer-config (escaped server-side). Before starting,
 * the manifest is fetched once to see whether it declares a Search 1.0 (or 0) service:
 * if so the sidebar opens on the search panel, otherwise on the info panel (Mirador
 * would show a search panel with nowhere to send the query).
 *
 * How `q` is run differs by version:
 * - Mirador 3: the window's `defaultSearchQuery`, Mirador's own way.
 * - Mirador 4.0.0: `defaultSearchQuery` builds its URL without encoding `q` and makes the
 *   search run twice (once by a saga, once by the search panel when the query reaches it);
 *   the second request for the same query crashes the hit list ("Cannot read properties
 *   of undefined (reading 'targetId')", ProjectMirador/mirador#4229). So the query goes
 *   through the search panel itself, as if typed: one request, the reader's code path.
 *
 * Mirador 4.0.0 also repeats the request whenever the search panel is shown again (after
 * the info panel, say), with the same crash (mirador#4214, fixed after 4.0.0). The
 * `searchOnce` plugin below skips a panel request for the query already fetched.
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

  /* A Mirador 4 "wrap" plugin around the search panel controls: their `fetchSearch` is
   * replaced by one that does nothing when this panel already holds results (or a request
   * in flight) for the same query. Without React at hand, the wrapped element is copied
   * with the new prop (React elements are plain objects). */
  var guards = new WeakMap();
  function guardedFetch(fetchSearch) {
    if (!guards.has(fetchSearch)) {
      guards.set(fetchSearch, function (windowId, companionWindowId, searchId, query) {
        var state = window.miradorInstance.store.getState();
        var search = ((state.searches || {})[windowId] || {})[companionWindowId];
        if (search && search.query === query && search.data && Object.keys(search.data).length) return undefined;
        return fetchSearch(windowId, companionWindowId, searchId, query);
      });
    }
    return guards.get(fetchSearch);
  }
  var searchOnce = {
    target: "SearchPanelControls",
    mode: "wrap",
    component: function (props) {
      var element = props.children;
      if (!element || !element.props || typeof element.props.fetchSearch !== "function") return element;
      var copy = Object.assign({}, element);
      copy.props = Object.assign({}, element.props, { fetchSearch: guardedFetch(element.props.fetchSearch) });
      return copy;
    },
  };

  function start(searchable) {
    var win = { manifestId: config.manifest };
    if (config.canvas) {
      // Open on that canvas (a hit of the results page, #13: `canvas` may carry the hit's
      // `#xywh=`) and stay there when the search returns, instead of Mirador's jump to the
      // first hit of the book.
      win.canvasId = config.canvas.split("#")[0];
      win.switchCanvasOnSearch = false;
    }
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
    }, config.viewer === "mirador3" ? [] : [searchOnce]);
    redrawOnAccessChange(window.miradorInstance.store);
    if (runQuery && config.viewer !== "mirador3") searchThroughPanel(config.q);
    if (runQuery && config.canvas) selectHit(config.canvas);
  }

  /* A restricted book (#22, IIIF Auth 1.0): Mirador 4.0 adds a page's tiled image once, from
   * the first info.json it got (OpenSeadragonTileSource re-runs on its url only), so the
   * 401 info.json seen before the login stays drawn after it: the page stays blank although
   * Mirador fetched the readable info.json with the token. When an image's info.json turns
   * from degraded to readable (login) or back (logout), it is asked for once more: while it
   * is fetched the tile source unmounts, and it mounts again with the new answer. */
  function redrawOnAccessChange(store) {
    var degradedBefore = {};
    store.subscribe(function () {
      var responses = store.getState().infoResponses || {};
      Object.keys(responses).forEach(function (infoId) {
        var response = responses[infoId];
        if (response.isFetching || !response.json) return;
        var degraded = Boolean(response.degraded);
        var before = degradedBefore[infoId];
        degradedBefore[infoId] = degraded;  // first, so the dispatch below cannot loop
        if (before === undefined || before === degraded) return;
        // Mirador's requestInfoResponse action; the answer just received names the token service.
        store.dispatch({ type: "mirador/REQUEST_INFO_RESPONSE", infoId: infoId, imageResource: response.json });
      });
    });
  }

  /* With a canvas to open on, Mirador does not pick a hit (switchCanvasOnSearch is off):
   * once the results are in, select the hit whose `on` is `target` (canvas#xywh=), else
   * the first on that canvas, as if the reader had clicked it in the list. */
  function selectHit(target) {
    var canvas = target.split("#")[0];
    var store = window.miradorInstance.store;
    var started = Date.now();
    var finished = false;
    var unsubscribe = store.subscribe(function () {
      if (finished) return;  // the dispatch below notifies this listener again
      var state = store.getState();
      var windowId = Object.keys(state.windows)[0];
      var panels = (state.searches || {})[windowId] || {};
      var hit = null;
      Object.keys(panels).forEach(function (panelId) {
        var data = panels[panelId].data || {};
        Object.keys(data).forEach(function (url) {
          var resources = ((data[url] || {}).json || {}).resources || [];
          hit = hit || resources.find(function (r) { return r.on === target; }) ||
            resources.find(function (r) { return typeof r.on === "string" && r.on.split("#")[0] === canvas; });
        });
      });
      if (hit || Date.now() - started > PANEL_WAIT_MS) {
        finished = true;
        unsubscribe();
      }
      // Mirador's selectAnnotation action (3 and 4), which its UMD build does not export.
      if (hit) store.dispatch({ type: "mirador/SELECT_ANNOTATION", windowId: windowId, annotationId: hit["@id"] });
    });
  }

  fetch(config.manifest, { headers: { Accept: "application/ld+json, application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (manifest) { start(manifest ? hasSearchService(manifest) : undefined); })
    // Unreachable or not JSON: let Mirador show its own error for the manifest.
    .catch(function () { start(undefined); });
})();
