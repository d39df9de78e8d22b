// The access token services (#22): post the message the server put in the page to the viewer
// that framed it, at the origin it named (IIIF Auth 1.0 section 2.2.4, Auth 2.0 section 4.3).
// The message is data, not script: the page's CSP allows this file and no inline script.
"use strict";
(function () {
  var holder = document.getElementById("iiif-auth-message");
  if (holder && window.parent !== window) {
    window.parent.postMessage(JSON.parse(holder.getAttribute("data-message")), holder.getAttribute("data-origin"));
  }
})();
