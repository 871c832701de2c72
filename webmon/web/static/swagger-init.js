// Starts Swagger UI on /api/docs. A file, not an inline script: the pages' Content-Security-
// Policy runs no inline script. The document's URL is this script element's data-openapi.
(function () {
  "use strict";
  var url = document.currentScript.getAttribute("data-openapi");
  window.ui = SwaggerUIBundle({
    url: url,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
