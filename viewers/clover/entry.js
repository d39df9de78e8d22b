/* Clover IIIF's React build with React 18, as one classic script for /viewer/clover.
 *
 * scripts/install-viewers bundles this file with esbuild into build/dist/clover.js (never
 * committed). It only hands the page script (search_service/web/static/clover-page.js) what
 * it needs: React, a root to render into, and Clover's Viewer component. The web
 * component build (<clover-viewer>) is not used: in 3.3.x it crashes on any annotation
 * ("l is not a function", fixed upstream in 3.5, samvera-labs/clover-iiif#331).
 */
import React from "react";
import { createRoot } from "react-dom/client";
import Viewer from "@samvera/clover-iiif/viewer";
import clover from "@samvera/clover-iiif/package.json";

window.CloverIIIF = { React, createRoot, Viewer, version: clover.version };
