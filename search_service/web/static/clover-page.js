/* Start Clover IIIF 3.3.8 (its React build, bundled with React 18 as window.CloverIIIF by
 * scripts/install-viewers) on the page's manifest, with `q` already searched.
 *
 * Clover takes the manifest's first service typed SearchService1 or SearchService2 (ours
 * list Search 2.0 first) and runs `iiifContentSearchQuery.q` against it when it loads.
 * Its `informationPanel.defaultTab` has no effect in 3.3.8 (another effect switches the
 * panel back to "About" on load), so with `q` this script selects the Search tab itself,
 * once, as soon as Clover shows it, and puts `q` into its search box; after that the tabs
 * are the reader's.
 *
 * `window.cloverViewer.openSeadragon` is Clover's OpenSeadragon viewer of the current
 * canvas (as `window.miradorInstance` and `window.uv` on the other pages), taken from
 * Clover's own state through its plugin API.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("viewer-config").textContent);
  var clover = window.CloverIIIF;
  var React = clover.React;
  var SEARCH_TAB = '#viewer [role="tab"][id$="-trigger-manifest-content-search"]';
  var SEARCH_INPUT = '#viewer .content-search-form input[name="searchTerms"]';
  var TAB_WAIT_MS = 60000;
  var exposed = (window.cloverViewer = { openSeadragon: null });

  /* A Clover plugin drawn among the image controls: it draws nothing and keeps
   * `exposed.openSeadragon` up to date. */
  function ExposeOpenSeadragon(props) {
    var viewer = props.useViewerState().openSeadragonViewer;
    React.useEffect(function () { exposed.openSeadragon = viewer || null; }, [viewer]);
    return null;
  }

  /* A canvas to open on (a hit of the results page, #13) goes to Clover as a IIIF Content
   * State (an annotation targeting the canvas, part of the manifest), which Clover opens
   * on that canvas with the region outlined. */
  function contentState(canvas) {
    var parts = canvas.split("#");
    var target = { type: "SpecificResource", source: { id: parts[0], type: "Canvas", partOf: [{ id: config.manifest, type: "Manifest" }] } };
    if (parts[1]) target.selector = { type: "FragmentSelector", value: parts[1] };
    return { "@context": "http://iiif.io/api/presentation/3/context.json", id: config.manifest + "#state", type: "Annotation", motivation: ["contentState"], target: target };
  }

  var props = {
    iiifContent: config.canvas ? contentState(config.canvas) : config.manifest,
    options: {
      canvasHeight: "100%",
      showIIIFBadge: false,
      informationPanel: { open: true, renderAbout: true, renderContentSearch: true },
    },
    plugins: [{ id: "iiif-search-page", imageViewer: { controls: { component: ExposeOpenSeadragon } } }],
  };
  if (config.q) props.iiifContentSearchQuery = { q: config.q };
  clover.createRoot(document.getElementById("viewer")).render(React.createElement(clover.Viewer, props));

  /* The query in the search box, as if typed: React tracks the value through the native setter. */
  function fillSearchBox(query) {
    var input = document.querySelector(SEARCH_INPUT);
    if (!input || input.value) return;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(input, query);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  /* Radix tabs (Clover's) switch on a primary-button mousedown, as when the reader clicks. */
  function showSearchTab(query) {
    var started = Date.now();
    (function attempt() {
      var tab = document.querySelector(SEARCH_TAB);
      if (tab && tab.getAttribute("aria-selected") === "true" && document.querySelector(SEARCH_INPUT)) {
        fillSearchBox(query);
        return;
      }
      if (tab) tab.dispatchEvent(new MouseEvent("mousedown", { bubbles: true, cancelable: true, button: 0 }));
      if (Date.now() - started < TAB_WAIT_MS) window.setTimeout(attempt, 100);
    })();
  }
  if (config.q) showSearchTab(config.q);
})();
