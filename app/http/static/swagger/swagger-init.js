// Starts Swagger UI on /docs. Settings come from the page's JSON block (no inline script, so the
// page's Content-Security-Policy can forbid them); every asset and request stays on this origin.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("swagger-config").textContent);
  window.ui = SwaggerUIBundle({
    url: config.url,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: false,
    validatorUrl: null,
    displayRequestDuration: true,
    persistAuthorization: false,
    defaultModelsExpandDepth: 0,
  });
})();
