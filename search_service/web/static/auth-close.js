// The login and clickthrough pages (#22): once the access cookie is set, the window a viewer
// opened closes itself; the viewer then asks the token service (IIIF Auth 1.0 and 2.0).
"use strict";
window.close();
